"""Hostile re-run of issue 26: every example of the issue run through the real CLIs.

Each case runs one or more commands in a sandbox (``--root``) and records: exit status, whether
stderr holds ``Traceback``, whether a line of stderr starts with ``Error:`` (or the result is
the correct one, checked by the case), files written outside the case's named output (the whole
sandbox, input files and symlink targets included, is listed before and after; a case may
write only under ``cases/NAME/out*`` and
its hidden ``.out*`` temporaries and ownership records), and the peak RSS of the command (``wait4``; every command
runs under ``RLIMIT_AS`` = ``--mem-cap`` GiB, so a runaway allocation fails instead of taking
the machine). The cases are data in ``scripts/hostile_cases.py``, the hostile files they use
are made by ``scripts/hostile_files.py``. Companion of ``scripts/stress_safety.py`` (races).

A case passes when: no traceback; no write outside its output; peak RSS below ``--rss-limit``
MiB; no timeout (except the streaming cases, which are stopped on purpose); and either
``expect == "error"`` and the command exited 1 with an ``Error:`` line, or the case's own check
of the result holds.

Not a timed test: run it by hand (about 5-10 minutes on 2 cores)::

    .venv/bin/python scripts/stress_hostile.py --root /tmp/hostile --jobs 2 \\
        --markdown /tmp/hostile/table.md
"""
from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile_cases  # noqa: E402
import hostile_files  # noqa: E402


def snapshot(root: Path) -> dict[str, tuple]:
    """path -> (type, size, mtime_ns, link target) of everything under ``root``."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            link = os.readlink(p) if os.path.islink(p) else None
            out[p] = (st.st_mode >> 12, st.st_size, st.st_mtime_ns, link)
    return out


def run_one(argv: list[str], cwd: Path, stdin, timeout: float, mem_cap: int, log: Path):
    """(exit status, peak RSS MiB, timed out) of ``argv``; stdout/stderr appended to ``log``."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (mem_cap, mem_cap))
        os.setsid()
    with open(log.with_suffix(".out"), "ab") as out, open(log.with_suffix(".err"), "ab") as err:
        feeder = None
        if stdin == "yes":  # an endless stream of one path
            feeder = subprocess.Popen(["yes", str(cwd / "words" / "w1.png")],
                                      stdout=subprocess.PIPE)
            src = feeder.stdout
        elif isinstance(stdin, bytes):
            src = open(log.with_suffix(".in"), "w+b")
            src.write(stdin)
            src.seek(0)
        else:
            src = subprocess.DEVNULL
        p = subprocess.Popen(argv, cwd=cwd, stdin=src, stdout=out, stderr=err,
                             preexec_fn=limit)
        t0, timed_out = time.monotonic(), False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout and not timed_out:
                timed_out = True
                os.killpg(p.pid, 9)
            time.sleep(0.2)
        p.returncode = os.waitstatus_to_exitcode(status)
        if feeder:
            feeder.kill()
            feeder.wait()
    return p.returncode, ru.ru_maxrss / 1024, timed_out


def allowed(p: str, case: dict, cdir: Path, env: dict) -> bool:
    """Whether a change at ``p`` is this case's own: its output ``out*`` with the hidden
    ``.out*`` temporaries and ownership record beside it, its logs; or another case's (cases
    run in parallel: ``cases/OTHER``, ``outside/OTHER``; names that escaped ``--outdir`` are
    caught by ``watch``). ``link_ok``: writing into its own symlink's target is correct."""
    if p == str(cdir) or p.startswith((str(cdir / "out"), str(cdir / ".out"),
                                       str(cdir / "log"))):
        return True
    cases, away = str(env["root"] / "cases") + os.sep, str(env["root"] / "outside") + os.sep
    if p.startswith(cases) and not p.startswith(str(cdir) + os.sep):
        return not p[len(cases):].startswith("escape")
    if p.startswith(away):
        mine = p == away + case["name"] or p.startswith(away + case["name"] + os.sep)
        return not mine or bool(case.get("link_ok"))
    return False


def run_case(case: dict, env: dict, a) -> dict:
    cdir = env["root"] / "cases" / case["name"]
    log = cdir / "log"
    res = {"name": case["name"], "group": case.get("group", ""), "expect": case["expect"]}
    before = snapshot(env["root"])
    codes, rss, timed = [], 0.0, False
    for argv in case["cmds"]:
        code, r, t = run_one([str(x) for x in argv], cdir, case.get("stdin"),
                             case.get("timeout", a.timeout), a.mem_cap << 30, log)
        codes.append(code)
        rss, timed = max(rss, r), timed or t
        if code != 0:
            break
    after = snapshot(env["root"])
    changed = sorted(p for p in set(before) | set(after)
                     if before.get(p) != after.get(p) and not allowed(p, case, cdir, env))
    changed += [p for w in case.get("watch", []) for p in glob.glob(w)]
    err = log.with_suffix(".err").read_text(errors="replace") if log.with_suffix(
        ".err").exists() else ""
    out = log.with_suffix(".out").read_text(errors="replace") if log.with_suffix(
        ".out").exists() else ""
    error_line = next((ln for ln in err.splitlines() if ln.startswith("Error:")), "")
    res.update(exit=codes[-1], traceback="Traceback" in err, error=bool(error_line),
               msg=(error_line or err.strip().splitlines()[-1:] and err.strip().splitlines()[-1]
                    or "")[:160], outside=changed[:5], rss=round(rss), timeout=timed)
    check = case.get("check")
    verdict = None
    if check is not None:
        try:
            verdict = check(cdir, codes[-1], out, err)
        except Exception as exc:  # a check that cannot read its result fails the case
            verdict = f"check failed: {type(exc).__name__}: {exc}"[:160]
    is_error = codes[-1] == 1 and bool(error_line)
    why = []
    if res["traceback"]:
        why.append("traceback")
    if "\x1b" in err:
        why.append("raw ESC on stderr")
    if max((len(ln) for ln in err.splitlines()), default=0) > 20_000:
        why.append("a stderr line over 20,000 characters")
    if changed:
        why.append("wrote outside: " + changed[0][-90:])
    if rss > a.rss_limit:
        why.append(f"RSS {rss:.0f} MiB")
    if timed and not case.get("stopped"):
        why.append("timeout")
    ok = {"error": is_error and not isinstance(verdict, str),
          "either": verdict is True or (is_error and not case.get("strict")),
          "ok": verdict is True}[case["expect"]]
    if not ok:
        why.append(verdict if isinstance(verdict, str) else
                   f"exit {codes[-1]}, {'Error:' if is_error else 'no Error:'}")
    res["result"] = "ok" if verdict is True else ("Error:" if is_error else f"exit {codes[-1]}")
    res["pass"] = not [w for w in why if w]
    res["why"] = "; ".join(w for w in why if w)
    return res


def table(results: list[dict]) -> str:
    rows = ["| case | group | expect | exit | Error:/result | traceback | outside | peak RSS "
            "MiB | pass |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r['name']} | {r['group']} | {r['expect']} | {r['exit']} | "
                    f"{r['result']} | {'yes' if r['traceback'] else 'no'} | "
                    f"{len(r['outside'])} | {r['rss']} | "
                    f"{'yes' if r['pass'] else 'NO: ' + r['why'].replace('|', '/')} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/tmp/crnn_hostile"))
    ap.add_argument("--build", type=Path, default=None,
                    help="folder of base engines to reuse (made there when missing)")
    ap.add_argument("--assets", type=Path, default=Path("/work/shared/assets"))
    ap.add_argument("--weights", type=Path, default=Path("weights"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=240.0)
    ap.add_argument("--mem-cap", type=int, default=8, help="RLIMIT_AS of each command, GiB")
    ap.add_argument("--rss-limit", type=float, default=3072.0, help="MiB")
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    ap.add_argument("--markdown", type=Path, default=None)
    a = ap.parse_args()
    shutil.rmtree(a.root, ignore_errors=True)
    a.root.mkdir(parents=True)
    env = hostile_files.prepare(a.root.resolve(), (a.build or a.root / "build").resolve(),
                                a.assets.resolve(), a.weights.resolve())
    cases = [c for c in hostile_cases.cases(env) if a.k in c["name"]]
    for c in cases:
        (env["root"] / "cases" / c["name"]).mkdir(parents=True, exist_ok=True)
        (env["root"] / "cases" / c["name"] / "words").symlink_to(env["words"])
        if c.get("setup"):
            c["setup"](env["root"] / "cases" / c["name"])
    t0 = time.monotonic()
    with ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda c: run_case(c, env, a), cases))
    for r in results:
        print(f"{'PASS' if r['pass'] else 'FAIL'} {r['name']}: exit {r['exit']} "
              f"rss {r['rss']} MiB {r['why']}  {r['msg'][:110]}")
    failed = [r for r in results if not r["pass"]]
    summary = (f"{len(results)} cases, {len(results) - len(failed)} passed, {len(failed)} "
               f"failed, {time.monotonic() - t0:.0f} s")
    print(summary)
    if a.markdown:
        a.markdown.write_text(summary + "\n\n" + table(results) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
