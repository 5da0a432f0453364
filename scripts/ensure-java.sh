#!/usr/bin/env bash
# METEOR 1.5 (pycocoevalcap's jar) and the PTB-tokenizer parity tests need a Java runtime.
set -u
if command -v java >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "cxrbench: installing a headless Java runtime (default-jre-headless) for METEOR..." >&2
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null; then
    exit 0
  fi
fi
echo "cxrbench: no Java runtime found and it could not be installed; METEOR will be reported as unavailable and" \
     "the Java parity tests skipped. Install one with: sudo apt-get install default-jre-headless" >&2
exit 0
