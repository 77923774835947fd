#!/usr/bin/env bash
# proxy/'s wings include only downwards (proxy/README.md): a file may include a header of its
# own wing or of a wing listed before it; h1/ and h2/ never include each other. Prints every
# include that breaks the rule and fails; passes when there is none.
set -euo pipefail
root=${1:?usage: layers_test.sh <source root>}
rank() {
  case "$1" in
    io) echo 1 ;; state) echo 2 ;; upstream) echo 3 ;; request) echo 4 ;; exchange) echo 5 ;;
    h1 | h2) echo 6 ;; admin) echo 7 ;; top) echo 8 ;; cli) echo 9 ;;
    *) echo "unknown wing: $1" >&2; exit 2 ;;
  esac
}
wing_of() {  # proxy/<wing>/file → wing; proxy/file → top
  local rel=${1#proxy/}
  if [[ $rel == */* ]]; then echo "${rel%%/*}"; else echo top; fi
}
bad=0
checked=0
while IFS= read -r file; do
  from=$(wing_of "${file#"$root"/}")
  while IFS= read -r inc; do
    to=$(wing_of "$inc")
    checked=$((checked + 1))
    if (($(rank "$to") > $(rank "$from"))) || { [[ $from != "$to" ]] && (($(rank "$to") == $(rank "$from"))); }; then
      echo "${file#"$root"/}: includes $inc ($from/ may not include $to/)"
      bad=1
    fi
  done < <(sed -n 's/^#include "\(proxy\/[^"]*\)".*/\1/p' "$file")
done < <(find "$root/proxy" -name '*.hpp' -o -name '*.cpp')
((checked > 50)) || { echo "only $checked includes found: wrong root?"; exit 1; }
exit $bad
