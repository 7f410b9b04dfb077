#!/usr/bin/python3
"""Runs every tests/integration/test_*.py with unittest and ends with one
line: "integration: N passed, M failed, K skipped"."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
only = sys.argv[1:]
print("integration: binaries from %s" % os.environ.get("LIVETRADE_BIN", "bin/"),
      flush=True)
suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py")
if only:
    def keep(s):
        out = unittest.TestSuite()
        for t in s:
            if isinstance(t, unittest.TestSuite):
                out.addTest(keep(t))
            elif any(k in t.id() for k in only):
                out.addTest(t)
        return out
    suite = keep(suite)
result = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors)
skipped = len(result.skipped)
passed = result.testsRun - failed - skipped
print("integration: %d passed, %d failed, %d skipped"
      % (passed, failed, skipped))
sys.exit(1 if failed or result.testsRun == 0 else 0)
