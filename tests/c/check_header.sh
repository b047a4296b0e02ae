#!/usr/bin/env bash
# Header hygiene: every name the header declares at file scope starts with yolo_ or YOLO_, its comments
# carry no Rust doc syntax, and it compiles as C11 and C++17 with -Wall -Wextra -Werror -pedantic before
# and after each of the system headers a C or C++ program commonly includes.
#
#   check_header.sh HEADER CC CXX
set -euo pipefail
header=$1 cc=$2 cxx=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 passed=0

python3 - "$header" <<'PY' || failures=$((failures + 1))
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
comments = re.findall(r"//[^\n]*|/\*.*?\*/", text, flags=re.S)
code = re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.S)
names = set(re.findall(r"^\s*#\s*define\s+(\w+)", code, flags=re.M))
names |= set(re.findall(r"\b(?:struct|enum|union)\s+(\w+)", code))
names |= set(re.findall(r"^\s*(\w+)\s*(?:=[^,\n]*)?,?\s*$", code, flags=re.M))  # enumerators
names |= set(re.findall(r"typedef\b[^;{]*?\b(\w+)\s*;", code))  # typedef ... NAME;
names |= set(re.findall(r"}\s*(\w+)\s*;", code))  # typedef struct ... { } NAME;
names |= set(re.findall(r"\(\s*\*\s*(\w+)\s*\)\s*\(", code))  # typedef R (*NAME)(...)
names |= set(re.findall(r"^(?!typedef\b)[A-Za-z_][\w \t\*]*?\b(\w+)\s*\(", code, flags=re.M))  # functions
bad = sorted(n for n in names if not re.match(r"(yolo_|YOLO_)", n))
rust = [c.strip() for c in comments if re.search(r"\[`|`\]|# Safety|# Panics|```|\bSelf::|crate::", c)]
for name in bad:
    print(f"check_header: '{name}' is declared without the yolo_/YOLO_ prefix")
for comment in rust:
    print(f"check_header: Rust doc syntax in a comment: {comment[:100]}")
if not names:
    print("check_header: found no declarations at all; the checker is broken")
sys.exit(1 if bad or rust or not names else 0)
PY

compile() {  # compile LANGUAGE COMPILER STANDARD FIRST SECOND
    local language=$1 compiler=$2 standard=$3
    printf '#include %s\n#include %s\nint main(void) { return 0; }\n' "$4" "$5" > "$work/t.$language"
    if "$compiler" -std="$standard" -Wall -Wextra -Werror -pedantic -I"$(dirname "$header")" \
        -c "$work/t.$language" -o "$work/t.o" 2> "$work/err"; then
        passed=$((passed + 1))
    else
        failures=$((failures + 1))
        echo "check_header: $standard with $4 then $5:"
        head -5 "$work/err"
    fi
}

own="\"$(basename "$header")\""
for system in '<stdlib.h>' '<stdio.h>' '<pthread.h>'; do
    compile c "$cc" c11 "$system" "$own"
    compile c "$cc" c11 "$own" "$system"
done
for system in '<stdlib.h>' '<stdio.h>' '<pthread.h>' '<string>' '<cstdlib>' '<thread>'; do
    compile cpp "$cxx" c++17 "$system" "$own"
    compile cpp "$cxx" c++17 "$own" "$system"
done
echo "check_header: $passed passed, $failures failed"
[ "$failures" = 0 ]
