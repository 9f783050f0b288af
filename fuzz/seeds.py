#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/seeds/<target>/ (committed; rerun after
changing the catalogues): the Authorization values of the hostile-input catalogues in
tests/it/hostile_basic.rs and tests/it/hostile_policy.rs, plus the valid credentials, each in
the input format of its target. File names are the content's SHA-1, as libFuzzer names them.
"""
import base64
import hashlib
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


# tests/it/hostile_basic.rs, catalogue(): the decoded Basic credentials, then raw values.
BASIC_PAYLOADS = [
    b"johnhello",  # no colon
    b"jo\rhn:hello",  # CR in user
    b"john:hel\nlo",  # LF in password
    b"john:hello\0",  # NUL in password
    b"john\x7f:hello",  # DEL in user
    b"john:\x85hello",  # C1 control (Latin-1)
    b"\x1b[31mjohn:hello",  # ESC
    b":",  # empty user and password
    b"john:",  # empty password
    "john:\u202eolleh".encode(),  # unicode bomb in password
    b"john:hello",  # the valid credentials
    b"susan:bye",
]
BASIC_TOKEN68 = [b64(p) for p in BASIC_PAYLOADS] + [
    b"!!!notb64",  # malformed base64
    b"am9o bjpoZWxsbw==",  # base64 with a hole
    b"am9objpoZWxsbw",  # unpadded
    b"====",  # padding only
    b"am9objpo\tZWxsbw==",  # tab inside credentials
    b64(b"a" * 700),  # long valid base64 (the catalogue's is 7000 bytes; kept small here)
    b"",
]
HEADER_VALUES = [b"Basic " + t for t in BASIC_TOKEN68] + [
    b"Basic \xff\xfe\xfd",  # non-UTF-8 header bytes
    b"B\xe4sic am9objpoZWxsbw==",  # obs-text in scheme
    b"Basic\tam9objpoZWxsbw==",  # tab separator
    b"",  # empty value
    b"Basic",  # scheme only
    b"Basic      ",  # scheme and spaces
    b"Basic user=john, password=hello",  # params instead of token68
    b"Basic am9objpoZWxsbw==, Basic am9objpoZWxsbw==",  # comma list
    b"Bearer am9objpoZWxsbw==",  # wrong scheme
    b"am9objpoZWxsbw==",  # no scheme
    b'"Basic" am9objpoZWxsbw==',  # quote in scheme
    b"Basic " + b"A" * 900,  # oversized (the catalogue's is 9000 bytes; kept small here)
    # tests/it/hostile_policy.rs, value(): the shapes of the property test, and its valid inputs
    b"Bearer tok",
    b"bearer tok",
    b"Bearer tok extra",
    b"Bearer ",
    b"X am9objpoZWxsbw==",
    b"key",
    b'Digest username="john", realm="Authentication Required", nonce="0", uri="/x", '
    b'response="00000000000000000000000000000000", qop=auth, nc=00000001, cnonce="c"',
    b'Digest username="john", username="john"',
    b'Digest username*=UTF-8\'\'j%C3%B6hn, realm="x", nonce="n", uri="/x", response="r"',
    b'Digest username="jo\\"hn", realm=x, nonce=, uri="/x", opaque="o", algorithm=SHA-256',
    b'Digest a="b", c=d, ',
    b"Digest ,,,",
    b'Digest realm="\x80\xff"',
]
# Values for X-API-Key.
SECOND = [b"key", b"Bearer tok", b"\x00key", b"k\xffey", b""]


def policy_inputs():
    # fuzz_targets/policy.rs: selector byte (1: Authorization = a, 2: a second Authorization
    # = b, 4: X-API-Key = b), then a ‖ b split at the middle.
    for value in HEADER_VALUES:
        yield bytes([1]) + value + value
    for value in HEADER_VALUES[:20]:
        yield bytes([3]) + value + value  # the same value in two Authorization headers
    for second in SECOND:
        yield bytes([4]) + b"x" * len(second) + second  # X-API-Key only
    # duplicated Authorization headers (hostile_basic: "duplicated", "duplicated, one bad")
    yield bytes([3]) + b"Basic am9objpoZWxsbw==" * 2
    yield bytes([3]) + b"Basic !!!" + b"Basic am9objpoZWxsbw=="[:9]


def write(target, inputs):
    out = os.path.join(HERE, "seeds", target)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for data in inputs:
        with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
    print(f"{target}: {len(os.listdir(out))} seeds")


write("header_parse", HEADER_VALUES)
write("basic_decode", BASIC_TOKEN68)
write("policy", list(policy_inputs()))
