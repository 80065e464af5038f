#!/usr/bin/env bash
# tools/checksrc.sh - banned calls in src/ (see tools/checksrc.py for the rules).
exec python3 "$(dirname "$0")/checksrc.py"
