#!/usr/bin/env bash
# test_install.sh MESON BUILD_DIR SOURCE_DIR — `meson install --destdir` into a temporary folder,
# then the installed accelbench run from another folder with the build and source trees out of
# its way: it must find the installed device profiles (strace shows no file of either tree
# opened), its man page must render and name every option of every command, and the bash
# completion must complete `accelbench ru` to `run`.
set -uo pipefail
meson=$1 build=$2 src=$3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ab-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$meson" install -C "$build" --no-rebuild --destdir "$tmp/dest" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "FAIL: meson install"; exit 1; }
bin=$(find "$tmp/dest" -path '*/bin/accelbench' -type f | head -1)
[ -x "$bin" ] || { echo "FAIL: no bin/accelbench under the destdir"; exit 1; }
prefix=$(dirname "$(dirname "$bin")")
for f in share/accelbench/profiles/cpu-generic.json share/doc/accelbench/schema.md \
         share/man/man1/accelbench.1 share/bash-completion/completions/accelbench \
         share/zsh/site-functions/_accelbench; do
  [ -s "$prefix/$f" ] || fail "not installed: $f"
done

# Another working folder and home; no variable pointing at profiles.
mkdir -p "$tmp/work" "$tmp/home"
cd "$tmp/work" || exit 1
export HOME=$tmp/home
unset ACCELBENCH_PROFILES ACCELBENCH_DATA
"$bin" --version | grep -q "^accelbench .*(git " || fail "--version: $("$bin" --version)"
# vcs_tag's hash, taken at build time: a commit of the source tree (a commit made since the
# build may have moved HEAD, so it is not compared with HEAD)
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  hash=$("$bin" --version | sed -n 's/.*(git \([0-9a-f]*\)\(-dirty\)\{0,1\};.*/\1/p')
  [ -n "$hash" ] && git -C "$src" cat-file -e "$hash^{commit}" 2>/dev/null ||
    fail "--version names no commit of the source tree: $("$bin" --version)"
fi
run=("$bin" run --check -w ceilings -d cpu -a kind=fma -a dtype=fp32 -q -o "$tmp/work/out")
if command -v strace >/dev/null 2>&1; then
  # LeakSanitizer cannot run under ptrace; the runs below keep it
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -e trace=open,openat,stat,newfstatat,statx,access,readlink -o "$tmp/trace" \
    "${run[@]}" >"$tmp/run.log" 2>&1 || fail "installed run: $(cat "$tmp/run.log")"
  # any look at either tree, even a failed one, is a dependence on it
  grep -F -e "\"$src/" -e "\"$src\"" -e "\"$build/" -e "\"$build\"" "$tmp/trace" >"$tmp/bad" &&
    fail "the installed binary touched the source or build tree: $(head -3 "$tmp/bad")"
  grep -qF "$prefix/bin/../share/accelbench/profiles" "$tmp/trace" || fail "profiles not read from the installed datadir"
else
  "${run[@]}" >"$tmp/run.log" 2>&1 || fail "installed run: $(cat "$tmp/run.log")"
fi
grep -q ',nominal:cpu-generic,' "$tmp/work/out/results.csv" 2>/dev/null ||
  fail "the installed run did not use the installed cpu-generic profile"
"$bin" info >"$tmp/info.log" 2>&1 || fail "installed info: $(cat "$tmp/info.log")"
# A datadir given by ACCELBENCH_DATA wins; a wrong one is an error that names it.
ACCELBENCH_DATA=$tmp/nowhere "$bin" info >"$tmp/info2.log" 2>&1 && fail "info with a missing ACCELBENCH_DATA succeeded"
grep -qF "$tmp/nowhere/profiles" "$tmp/info2.log" || fail "the error does not name the folder: $(cat "$tmp/info2.log")"
# A copy of the binary away from any share/ folder finds the profiles by ACCELBENCH_DATA alone.
mkdir -p "$tmp/loose" && cp "$bin" "$tmp/loose/accelbench"
ACCELBENCH_DATA=$prefix/share/accelbench "$tmp/loose/accelbench" info >"$tmp/info3.log" 2>&1 ||
  fail "info by ACCELBENCH_DATA: $(cat "$tmp/info3.log")"
grep -q "profile: cpu-generic" "$tmp/info3.log" || fail "ACCELBENCH_DATA's profiles not used: $(cat "$tmp/info3.log")"

# The man page: renders, and names every option of every command's --help.
page=$prefix/share/man/man1/accelbench.1
grep -q '^\.TH ACCELBENCH 1' "$page" || fail "man page has no .TH"
if command -v man >/dev/null 2>&1; then
  MANWIDTH=200 man -l "$page" >"$tmp/man.txt" 2>"$tmp/man.err" || fail "man -l: $(cat "$tmp/man.err")"
else
  sed -e 's/\\-/-/g' -e 's/\\f[BIR]//g' "$page" >"$tmp/man.txt"
fi
for cmd in $("$bin" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}'); do
  grep -q "ACCELBENCH ${cmd^^}" "$tmp/man.txt" || fail "man page lacks the $cmd section"
  for opt in $("$bin" "$cmd" --help | grep -oE '^ {1,8}-[^ ]+(, --[a-z-]+)?' | grep -oE -- '--?[a-z][a-z-]*'); do
    grep -qF -- "$opt" "$tmp/man.txt" || fail "man page lacks $cmd $opt"
  done
done

# bash completion: loads, completes commands, options and workload names.
comp=$prefix/share/bash-completion/completions/accelbench
complete_words() { # complete_words WORD... (the last is the one completed)
  bash --norc -c 'source "$1" || exit 1; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _accelbench; echo "${COMPREPLY[*]}"' _ "$comp" "$@"
}
[ "$(complete_words accelbench ru)" = run ] || fail "bash: accelbench ru -> '$(complete_words accelbench ru)'"
[ "$(complete_words accelbench run --resu)" = --resume ] || fail "bash: run --resu -> '$(complete_words accelbench run --resu)'"
[ "$(complete_words accelbench run -w gemm,cei)" = gemm,ceilings ] || fail "bash: -w gemm,cei -> '$(complete_words accelbench run -w gemm,cei)'"
[ "$(complete_words accelbench run -d cp)" = cpu ] || fail "bash: -d cp -> '$(complete_words accelbench run -d cp)'"
if command -v zsh >/dev/null 2>&1; then
  zsh -n "$prefix/share/zsh/site-functions/_accelbench" || fail "zsh completion does not parse"
fi

[ "$fails" -eq 0 ] && echo "install: all checks passed"
exit $((fails > 0))
