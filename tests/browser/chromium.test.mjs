// chromium against the demo server: see suite.mjs for the cases.
import { browserSuite } from './suite.mjs';

browserSuite('chromium');
