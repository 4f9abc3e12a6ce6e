#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# validate.py SCHEMA DOCUMENT: exit 0 when DOCUMENT is valid, 1 with every error otherwise.
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = sorted(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(doc), key=str)
for e in errors:
    print("%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(document)", e.message))
sys.exit(1 if errors else 0)
