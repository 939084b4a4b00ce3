#!/usr/bin/env python3
# Strict JSON checks for the HTTP tests (the oracle is Python's json module).
#
#   jsoncheck.py FILE [EXPR]   FILE must be UTF-8 and one JSON value (no
#                              NaN/Infinity); EXPR, if given, is evaluated with
#                              the value as `d` and printed as ASCII JSON.
#   jsoncheck.py --oracle FILE FILE is [{"hex": "..", "s": ".."}]: each "s"
#                              must equal the bytes in "hex" decoded as UTF-8
#                              where valid and byte-for-byte (U+00XX) elsewhere.
import codecs
import json
import sys


def strict_load(path):
    raw = open(path, "rb").read()
    text = raw.decode("utf-8")  # raises on invalid UTF-8

    def bad_constant(name):
        raise ValueError("non-JSON constant " + name)

    return json.loads(text, parse_constant=bad_constant)


def per_byte(err):
    return "".join(chr(b) for b in err.object[err.start:err.end]), err.end


def main():
    if sys.argv[1] == "--oracle":
        codecs.register_error("netrv_bytes", per_byte)
        bad = 0
        cases = strict_load(sys.argv[2])
        for c in cases:
            want = bytes.fromhex(c["hex"]).decode("utf-8", errors="netrv_bytes")
            if c["s"] != want:
                bad += 1
                if bad <= 5:
                    print("mismatch:", c["hex"], ascii(c["s"]), ascii(want))
        print(len(cases), "cases,", bad, "mismatches")
        return 1 if bad else 0
    d = strict_load(sys.argv[1])
    if len(sys.argv) > 2:
        print(json.dumps(eval(sys.argv[2], {"d": d})))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, UnicodeDecodeError) as e:
        print("invalid:", e)
        sys.exit(2)
