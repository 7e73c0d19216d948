#!/usr/bin/env python3
"""mkdocs.py man|bash|zsh BINARY OUTPUT — the man page accelbench(1) and the bash and zsh
completion, made at build time from the built binary's own --help texts and `list`, so they
never drift from the program: nothing here repeats an option or a workload by hand.

The help texts follow one layout: a `usage:` block, paragraphs, and option lines
("  -w, --workload W,...    text", continued by deeper-indented lines)."""
import os
import re
import subprocess
import sys

OPTION = re.compile(r"^ {1,8}(-[^ ].*?)(?: {2,}(\S.*))?$")


def run(binary, *args):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", NO_COLOR="1")
    r = subprocess.run([binary, *args], capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        sys.exit(f"mkdocs.py: `{binary} {' '.join(args)}` exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def commands(binary):
    """[(name, summary)] from the top-level --help, and the help text itself."""
    top = run(binary, "--help")
    cmds, inside = [], False
    for line in top.splitlines():
        if line.strip() == "commands:":
            inside = True
        elif inside and re.match(r"^  \S", line):
            name, _, summary = line.strip().partition(" ")
            cmds.append((name, summary.strip()))
        elif inside and (not line.strip() or line.endswith(":")):
            inside = False
    return top, cmds


def parse_help(text):
    """Blocks of one --help: ('usage', [lines]), ('para', [lines]), ('opt', spec, [text])."""
    blocks, cur = [], None
    for line in text.splitlines():
        m = OPTION.match(line)
        if not line.strip():
            cur = None
        elif line.startswith("usage:") or (cur and cur[0] == "usage" and line.startswith(" ")):
            if not cur or cur[0] != "usage":
                cur = ("usage", [])
                blocks.append(cur)
            cur[1].append(line)
        elif m:
            cur = ("opt", m.group(1).strip(), [m.group(2)] if m.group(2) else [])
            blocks.append(cur)
        elif cur and cur[0] == "opt" and line.startswith("        "):
            cur[2].append(line.strip())
        elif cur and cur[0] == "para":
            cur[1].append(line.strip())
        else:
            cur = ("para", [line.strip()])
            blocks.append(cur)
    return blocks


def option_names(spec):
    """'-w, --workload W,...' -> ['-w', '--workload'], and whether it takes a value."""
    names, takes = [], False
    for part in spec.split(", "):
        words = part.split()
        if words and words[0].startswith("-"):
            names.append(words[0].split("=")[0])
            takes = takes or len(words) > 1 or "=" in words[0]
    return names, takes


def workloads(binary):
    """{workload: [axis names]} and whether CUDA is compiled in, from `list`."""
    out = run(binary, "list")
    wl, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^(\w+) \u2014 ", line)
        if m:
            cur = m.group(1)
            wl[cur] = []
        m = re.match(r"^  -a (\w+)=", line)
        if m and cur:
            wl[cur].append(m.group(1))
    cuda = "cuda not compiled in" not in out.splitlines()[0] if out else False
    return wl, cuda


def roff(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + s if s[:1] in (".", "'") else s


def man(binary):
    top, cmds = commands(binary)
    version = run(binary, "--version").strip()
    lines = top.splitlines()
    intro = []
    for l in lines[1:]:
        if l.endswith(":") and not l.startswith(" "):
            break
        if l.strip():
            intro.append(l.strip())
    desc = " ".join(intro)
    out = ['.TH ACCELBENCH 1 "" "%s" "User Commands"' % roff(version), ".SH NAME",
           "accelbench \\- " + roff(desc[:1].lower() + desc[1:].split(".")[0]), ".SH SYNOPSIS",
           ".B accelbench", "\\fICOMMAND\\fR [\\fIOPTIONS\\fR]", ".SH DESCRIPTION", roff(desc)]
    # the top-level help's sections ("commands:", "environment:"): entries "  NAME  text"
    section = None
    for l in lines[1:]:
        if l.endswith(":") and not l.startswith(" "):
            section = l[:-1]
            out.append('.SH "%s"' % section.upper())
        elif section and re.match(r"^  \S", l):
            name, _, text = l.strip().partition(" ")
            out += [".TP", ".B " + roff(name), roff(text.strip())]
        elif section and l.startswith("   ") and l.strip():
            out.append(roff(l.strip()))
        elif l.strip() and section:
            out += [".PP", roff(l.strip())]
    for name, _ in cmds:
        out.append('.SH "ACCELBENCH %s"' % name.upper())
        for b in parse_help(run(binary, name, "--help")):
            if b[0] == "usage":
                out += [".PP", ".nf"] + [roff(l) for l in b[1]] + [".fi"]
            elif b[0] == "para":
                out += [".PP", roff(" ".join(b[1]))]
            else:
                out += [".TP", "\\fB" + roff(b[1]) + "\\fR", roff(" ".join(b[2]))]
    return "\n".join(out) + "\n"


def per_command(binary):
    _, cmds = commands(binary)
    opts = {}
    for name, _ in cmds:
        names, valued = [], []
        for b in parse_help(run(binary, name, "--help")):
            if b[0] == "opt":
                n, takes = option_names(b[1])
                names += n
                if takes:
                    valued += n
        opts[name] = (names, valued)
    return cmds, opts


def devices(cuda):
    return ["cpu", "all"] + (["cuda"] + ["cuda:%d" % i for i in range(8)] if cuda else [])


def bash(binary):
    cmds, opts = per_command(binary)
    wl, cuda = workloads(binary)
    axes = sorted({a for v in wl.values() for a in v})
    cases = "\n".join('        %s) opts="%s"; valued="%s" ;;' % (c, " ".join(opts[c][0]), " ".join(opts[c][1]))
                      for c, _ in cmds)
    return f"""# bash completion for accelbench (made by tools/mkdocs.py from the binary's help)
_accelbench() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{' '.join(c for c, _ in cmds)} --help --version" -- "$cur"))
        return
    fi
    local opts="" valued=""
    case "${{COMP_WORDS[1]}}" in
{cases}
    esac
    local list="" pre=""
    case "$prev" in
        -w|--workload) list="{' '.join(wl)}" ;;
        -d|--device) list="{' '.join(devices(cuda))}" ;;
        -a|--axis) COMPREPLY=($(compgen -S = -W "{' '.join(axes)}" -- "$cur")); compopt -o nospace 2>/dev/null; return ;;
    esac
    if [ -n "$list" ]; then
        [[ $cur == *,* ]] && pre=${{cur%,*}},
        COMPREPLY=($(compgen -P "$pre" -W "$list" -- "${{cur##*,}}"))
        return
    fi
    if [[ " $valued " == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F _accelbench accelbench
"""


def zsh(binary):
    cmds, opts = per_command(binary)
    wl, cuda = workloads(binary)
    axes = sorted({a for v in wl.values() for a in v})
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"
    described = " ".join(q(c + ":" + s.replace(":", "\\:")) for c, s in cmds)
    cases = "\n".join("        %s) opts=(%s) ;;" % (c, " ".join(opts[c][0])) for c, _ in cmds)
    return f"""#compdef accelbench
# zsh completion for accelbench (made by tools/mkdocs.py from the binary's help)
_accelbench() {{
    local -a commands opts
    commands=({described})
    if (( CURRENT == 2 )); then
        _describe -t commands 'accelbench command' commands
        return
    fi
    case $words[CURRENT-1] in
        -w|--workload) _sequence compadd - {' '.join(wl)}; return ;;
        -d|--device) _sequence compadd - {' '.join(devices(cuda))}; return ;;
        -a|--axis) compadd -S = - {' '.join(axes)}; return ;;
        -o|--output) _files -/; return ;;
    esac
    case $words[2] in
{cases}
    esac
    if [[ $PREFIX == -* ]]; then
        compadd -a opts
    else
        _files
    fi
}}
_accelbench "$@"
"""


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("man", "bash", "zsh"):
        sys.exit(__doc__.split("\n")[0])
    text = {"man": man, "bash": bash, "zsh": zsh}[sys.argv[1]](os.path.abspath(sys.argv[2]))
    with open(sys.argv[3], "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
