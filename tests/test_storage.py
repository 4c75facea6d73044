"""Checkpoint storage (--storage): folders and fsspec URIs, the node's data-root check, one-line errors."""

import socket
import textwrap
from pathlib import Path

import pytest

from harness import cli
from harness.errors import UserError
from harness.experiment import storage
from harness.experiment.run_trial import check_data_root
from harness.experiment.spec import load_spec
from harness.experiment.trial import RunSettings, resolve_trials


def test_a_folder_location_is_the_training_folder_itself(tmp_path: Path) -> None:
    with storage.checkpoint_folder(str(tmp_path), "abc") as folder:
        assert folder == tmp_path / "abc"
    storage.delete_checkpoints(str(tmp_path), "abc")  # absent: nothing to do


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_a_uri_location_is_downloaded_before_and_uploaded_after(tmp_path: Path, scheme: str) -> None:
    location = f"file://{tmp_path / 'remote'}" if scheme == "file" else "memory://mren-test"
    location = storage.check_location(location)
    with storage.checkpoint_folder(location, "abc") as folder:
        assert not (folder / "last.pt").exists()
        (folder / "last.pt").write_bytes(b"iteration 30")
        (folder / "final.pt").write_bytes(b"weights")
    with storage.checkpoint_folder(location, "abc") as folder:
        assert (folder / "last.pt").read_bytes() == b"iteration 30"  # a retry on any node starts from it
        assert not (folder / "final.pt").exists()  # only last.pt is needed to resume
    if scheme == "file":
        assert (tmp_path / "remote" / "abc" / "final.pt").read_bytes() == b"weights"
    storage.delete_checkpoints(location, "abc")
    with storage.checkpoint_folder(location, "abc") as folder:
        assert not (folder / "last.pt").exists()


def test_a_uri_location_follows_each_new_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "SYNC_SECONDS", 0.05)
    remote = tmp_path / "remote" / "abc" / "last.pt"
    with storage.checkpoint_folder(f"file://{tmp_path / 'remote'}", "abc") as folder:
        (folder / "last.pt").write_bytes(b"iteration 30")
        for _ in range(200):
            if remote.exists():
                break
            __import__("time").sleep(0.05)
        assert remote.read_bytes() == b"iteration 30"  # uploaded while training goes on, not only at the end


def test_bad_storage_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = Path(__file__).resolve().parents[1] / "ablations" / "scacb.yaml"
    for location, culprit in (("nosuch://bucket/x", "unknown filesystem nosuch://"),
                              ("relative/folder", "absolute path")):
        extra = ["--address", "127.0.0.1:1"] if culprit == "absolute path" else []
        code = cli.main(["run", str(spec), "--profile", "smoke", "--storage", location, "--dry-run", *extra])
        err = capsys.readouterr().err
        assert code == 2 and culprit in err and len(err.strip().splitlines()) == 1, err


def test_a_trial_checks_the_data_root_on_its_node_first(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""\
        table: table5
        base: {scale: 4, mode: evaluate, eval: [Set5]}
        variants: [{row: Bicubic, model: bicubic}]
        """))
    (tmp_path / "data" / "Set5").mkdir(parents=True)
    settings = RunSettings("paper", tmp_path / "results", data_root=tmp_path / "data")
    (trial,) = resolve_trials(load_spec(spec), settings)
    check_data_root(trial, settings)
    elsewhere = RunSettings("paper", tmp_path / "results", data_root=tmp_path / "missing")
    with pytest.raises(UserError, match=f"node {socket.gethostname()} has no .*missing/Set5 .*--data-root"):
        check_data_root(trial, elsewhere)
