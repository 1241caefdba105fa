"""The one import name (issue 21): a normal (non-editable) install puts only ``crnn_deploy`` into
site-packages, and a user's own ``models/`` folder or ``pipeline.py`` in the working directory
does not shadow it.

The wheel is built from this checkout into a fresh venv with ``--no-deps``; the dependencies
(numpy, onnxruntime, ...) come from the test's own environment through PYTHONPATH (a plain path
entry: the editable install's ``.pth`` finder is not loaded from there, so only the wheel can
provide ``crnn_deploy``).
"""
from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    ours = {p.name for p in (ROOT / "build").glob("*")}  # engines and data of the Makefile
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode:
        pytest.fail(f"pip install of the checkout failed:\n{proc.stdout}\n{proc.stderr}")
    # pip's build folder is .pip-build (setup.cfg [build] build_base), not our build/
    new = {p.name for p in (ROOT / "build").glob("*")} - ours
    assert not new, f"pip wrote {sorted(new)} into build/"
    assert (ROOT / ".pip-build" / "lib" / "crnn_deploy").is_dir()
    return env_dir


def test_only_one_top_level_name_is_installed(fresh_venv):
    site = next((fresh_venv / "lib").glob("python*/site-packages"))
    record = next(site.glob("crnn_deploy-*.dist-info")) / "RECORD"
    tops = {line.split(",")[0].split("/")[0] for line in record.read_text().splitlines()}
    assert {t for t in tops if not t.endswith(".dist-info") and t != ".."} == {"crnn_deploy"}
    assert (site / "crnn_deploy" / "runtime" / "base.py").is_file()
    assert (site / "crnn_deploy" / "converter" / "int8" / "routes.py").is_file()


def test_a_users_models_and_pipeline_do_not_shadow_the_package(fresh_venv, nano_dynamic_onnx,
                                                               assets, tmp_path):
    work = tmp_path / "user_project"
    (work / "models").mkdir(parents=True)
    (work / "models" / "__init__.py").write_text("raise ImportError('the user models package')\n")
    (work / "pipeline.py").write_text("raise ImportError('the user pipeline module')\n")
    (work / "runtime.py").write_text("raise ImportError('the user runtime module')\n")
    image = assets / "eval_iiit5k_3000" / "test" / "1002_1.png"  # gt.txt: PRIVATE
    code = ("import crnn_deploy, sys\n"
            "from crnn_deploy import Recognizer\n"
            f"r = Recognizer({str(nano_dynamic_onnx)!r})\n"
            f"(text, conf), = r.recognize([{str(image)!r}])\n"
            "print(crnn_deploy.__file__)\nprint(text)\n")
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"] + os.pathsep
           + sysconfig.get_paths()["platlib"]}
    proc = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", code], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    where, text = proc.stdout.splitlines()[-2:]
    assert str(fresh_venv) in where  # the wheel, not this checkout
    assert text.lower() == "private"
    console = subprocess.run([str(fresh_venv / "bin" / "crnn-recognize"), "--help"], cwd=work,
                             env=env, capture_output=True, text=True, timeout=120)
    assert console.returncode == 0, console.stderr
