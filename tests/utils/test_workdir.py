"""The provider's private folder on a worker: created 0700, never trusted when another account could
change it, files never opened through a symlink."""

from __future__ import annotations

import os
import stat

import pytest

from airflow_provider_peak.exceptions import UnsafePathError
from airflow_provider_peak.ingest.checkpoint import local_checkpoint
from airflow_provider_peak.utils.workdir import (
    configured_root,
    open_private,
    private_dir,
    private_file,
    spool_dir,
    spool_file,
    work_dir,
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.delenv("AIRFLOW__PEAK__WORK_DIR", raising=False)
    return tmp_path / "airflow"


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class TestTheFolder:
    def test_it_lives_under_airflow_home_and_is_created_0700(self, home):
        folder = work_dir("checkpoints")
        assert folder == home / "peak-provider" / "checkpoints"
        assert mode(home / "peak-provider") == mode(folder) == 0o700
        assert os.lstat(folder).st_uid == os.geteuid()

    def test_the_work_dir_option_moves_it(self, home, tmp_path, monkeypatch):
        monkeypatch.setenv("AIRFLOW__PEAK__WORK_DIR", str(tmp_path / "elsewhere"))
        assert configured_root() == tmp_path / "elsewhere"
        assert work_dir("venvs") == tmp_path / "elsewhere" / "venvs"

    def test_spools_go_to_the_private_folder(self, home):
        with spool_file("peak-spool-") as spool:
            spool.write(b"records")
        folder = spool_dir("peak-feed-")
        assert folder.parent == home / "peak-provider" / "spool" and mode(folder) == 0o700

    @pytest.mark.parametrize("bits", [0o020, 0o002])
    def test_a_folder_others_can_write_is_refused(self, home, bits):
        folder = work_dir()
        folder.chmod(0o700 | bits)
        with pytest.raises(UnsafePathError, match=r"writable by (other users|group|every user)") as caught:
            work_dir("checkpoints")
        assert caught.value.path == str(folder)
        assert not (folder / "checkpoints").exists()

    def test_a_symlink_among_its_folders_is_refused(self, home, tmp_path):
        (tmp_path / "real").mkdir(mode=0o700)
        work_dir()
        (home / "peak-provider" / "venvs").symlink_to(tmp_path / "real")
        with pytest.raises(UnsafePathError, match="symlink"):
            work_dir("venvs")

    def test_a_group_writable_folder_above_it_is_refused(self, tmp_path):
        shared = tmp_path / "shared"
        shared.mkdir()
        shared.chmod(0o775)
        os.chown(shared, -1, 4242)  # a group other than root's
        with pytest.raises(UnsafePathError, match="writable by group 4242"):
            private_dir(shared / "mine")

    def test_a_sticky_folder_of_roots_above_it_is_fine(self, shared_tmp):
        folder = private_dir(shared_tmp / "mine", "checkpoints")
        assert folder == shared_tmp / "mine" / "checkpoints" and mode(shared_tmp / "mine") == 0o700


class TestFiles:
    def test_a_file_is_never_opened_through_a_symlink(self, home, tmp_path):
        target = tmp_path / "precious.txt"
        target.write_text("keep me")
        folder = work_dir("venvs")
        (folder / "venv-x.lock").symlink_to(target)
        with pytest.raises(UnsafePathError, match="symlink"):
            open_private(folder / "venv-x.lock", os.O_RDWR | os.O_CREAT)
        with pytest.raises(UnsafePathError, match="symlink"), private_file(folder / "venv-x.lock", "w"):
            pass
        assert target.read_text() == "keep me"

    def test_created_files_are_0600_and_x_refuses_an_existing_one(self, home):
        path = work_dir() / "marker"
        with private_file(path, "x") as handle:
            handle.write("ready")
        assert mode(path) == 0o600
        with pytest.raises(FileExistsError):
            private_file(path, "x")

    def test_a_file_others_can_write_is_refused(self, home):
        path = work_dir() / "checkpoint.log"
        path.write_text("0:abc\n")
        path.chmod(0o666)
        with pytest.raises(UnsafePathError, match="writable by other users"):
            private_file(path, "r")


class TestAnotherAccount:
    """A second local account plants folders and files; none of them is used."""

    def test_a_work_dir_it_created_is_refused(self, other_user, shared_tmp, monkeypatch):
        planted = shared_tmp / "peak"
        other_user.run(lambda: os.mkdir(planted, 0o755))
        monkeypatch.setenv("AIRFLOW__PEAK__WORK_DIR", str(planted))
        with pytest.raises(UnsafePathError, match=f"belongs to uid {other_user.uid}"):
            work_dir("venvs")
        assert not (planted / "venvs").exists()

    def test_a_symlink_it_planted_on_the_way_is_refused(self, other_user, shared_tmp, tmp_path):
        mine = tmp_path / "mine"
        mine.mkdir(mode=0o700)
        link = shared_tmp / "link"
        other_user.run(lambda: os.symlink(mine, link))
        with pytest.raises(UnsafePathError, match=f"symlink owned by uid {other_user.uid}"):
            private_dir(link / "checkpoints")

    def test_its_checkpoint_in_a_checkpoint_dir_it_owns_is_never_read(self, other_user, shared_tmp):
        folder = shared_tmp / "checkpoints"

        def plant():
            os.mkdir(folder, 0o777)
            os.chmod(folder, 0o777)
            (folder / "planted.log").write_text("0:0123456789abcdef\n")

        other_user.run(plant)
        with pytest.raises(UnsafePathError, match=f"belongs to uid {other_user.uid}"):
            local_checkpoint("dag/task/run/-1/orders", directory=folder)

    def test_a_dead_letter_file_is_never_written_through_its_symlink(self, other_user, shared_tmp):
        from airflow_provider_peak.ingest.pipeline import open_text

        precious = shared_tmp / "precious.txt"
        precious.write_text("keep me")
        folder = shared_tmp / "dead"

        def plant():
            os.mkdir(folder, 0o777)
            os.chmod(folder, 0o777)
            os.symlink(precious, folder / "letters.jsonl")

        other_user.run(plant)
        with pytest.raises(UnsafePathError):
            open_text(str(folder / "letters.jsonl"))
        assert precious.read_text() == "keep me"
