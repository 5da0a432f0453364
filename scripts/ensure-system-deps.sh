#!/usr/bin/env bash
# System packages some tests need, installed when missing (as root, with apt-get):
#   java     - METEOR 1.5 (pycocoevalcap's jar) and the PTB-tokenizer parity tests   -> default-jre-headless
#   chromium - the reader-study browser test (Playwright drives Debian's Chromium)   -> chromium
#   tex      - the LaTeX table compile / page-fit test (pdflatex, booktabs, siunitx)
#              -> texlive-latex-base texlive-latex-recommended texlive-science (about 100 MB)
#   wordnet  - WordNet 3.0 for meteor_nltk (NLTK's METEOR reads /usr/share/wordnet; no nltk.download)
#              -> wordnet-base (about 30 MB)
# Without them those tests skip with a reason and METEOR / meteor_nltk are reported unavailable; nothing else
# changes.
# Usage: ensure-system-deps.sh [java] [chromium] [tex] [wordnet]   (no argument: all four)
set -u
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(java chromium tex wordnet)
missing=()
for tool in "${wanted[@]}"; do
  case "$tool" in
    java) command -v java >/dev/null 2>&1 || missing+=(default-jre-headless) ;;
    chromium) command -v chromium >/dev/null 2>&1 || missing+=(chromium) ;;
    tex) { command -v pdflatex >/dev/null 2>&1 && kpsewhich siunitx.sty >/dev/null 2>&1; } \
      || missing+=(texlive-latex-base texlive-latex-recommended texlive-science) ;;
    wordnet) [ -f /usr/share/wordnet/data.noun ] || [ -f "${WNSEARCHDIR:-/nonexistent}/data.noun" ] \
      || missing+=(wordnet-base) ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "cxrbench: installing ${missing[*]} with apt-get..." >&2
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    exit 0
  fi
fi
echo "cxrbench: could not install ${missing[*]} (needs root and apt-get). Tests that need them will be skipped;" \
     "install them with: sudo apt-get install ${missing[*]}" >&2
exit 0
