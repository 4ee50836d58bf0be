"""Signed manifests: valid when untouched, tampered after one flipped byte; verify's exit codes."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from cryptography import x509

from faceweave.cli.main import cli
from faceweave.errors import UserError
from faceweave.provenance.keys import CHAIN_NAME, KEY_NAME, config_dir
from faceweave.provenance.manifest import TRAINED_ALGORITHMIC_MEDIA, read_manifest, sign_in_place
from faceweave.provenance.verify import verify_file


@pytest.fixture
def signed_clip(clip: Path, tmp_path: Path) -> Path:
    path = tmp_path / "signed.mp4"
    shutil.copy(clip, path)
    sign_in_place(path)
    return path


def flip_byte(path: Path, out: Path, where: float = 0.6) -> Path:
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


def test_a_signed_video_validates_and_says_synthetic(signed_clip: Path) -> None:
    status = read_manifest(signed_clip)
    assert status.present and status.valid and not status.tampered and status.synthetic
    assert status.generator.startswith("faceweave")
    assert TRAINED_ALGORITHMIC_MEDIA.endswith("trainedAlgorithmicMedia")


def test_one_flipped_byte_is_reported_as_tampered(signed_clip: Path, tmp_path: Path) -> None:
    status = read_manifest(flip_byte(signed_clip, tmp_path / "flipped.mp4"))
    assert status.present and status.tampered and not status.valid


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_images_are_signed_and_still_open(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"picture{suffix}"
    image = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    cv2.imwrite(str(path), image)
    sign_in_place(path)
    assert read_manifest(path).valid
    reopened = cv2.imread(str(path))
    assert reopened is not None and reopened.shape == image.shape
    assert read_manifest(flip_byte(path, tmp_path / f"flipped{suffix}", 0.9)).tampered


def test_the_key_lives_in_the_config_folder_private(signed_clip: Path) -> None:
    folder = config_dir()
    assert (folder / CHAIN_NAME).is_file() and (folder / KEY_NAME).is_file()
    assert stat.S_IMODE((folder / KEY_NAME).stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificates((folder / CHAIN_NAME).read_bytes())[0]
    assert "self-signed" in leaf.subject.rfc4514_string()  # readers see it is not a public identity
    assert not (signed_clip.parent / KEY_NAME).exists()


def test_unsupported_files_are_clear_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UserError, match=r"cannot sign notes\.txt"):
        sign_in_place(text)
    with pytest.raises(UserError, match="does not exist"):
        verify_file(tmp_path / "missing.mp4")


def test_verify_exit_codes(signed_clip: Path, clip: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(cli, ["verify", str(signed_clip)])
    assert good.exit_code == 0 and "manifest: valid" in good.output and "synthetic" in good.output
    tampered = runner.invoke(cli, ["verify", str(flip_byte(signed_clip, tmp_path / "t.mp4"))])
    assert tampered.exit_code == 0 and "TAMPERED" in tampered.output  # still labelled, and says so
    plain = runner.invoke(cli, ["verify", str(signed_clip), str(clip)])
    assert plain.exit_code == 1 and "no faceweave label on" in plain.output
    missing = runner.invoke(cli, ["verify", str(tmp_path / "nope.mp4")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_verify_reports_every_file_and_reads_folders(signed_clip: Path, clip: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    result = CliRunner().invoke(cli, ["verify", str(bad), str(signed_clip), str(clip)])
    assert result.exit_code == 2, result.output  # the worst of: unreadable, unlabelled, labelled
    assert f"{signed_clip}:" in result.output and f"{clip}:" in result.output  # went on past bad.png
    assert "error:" in result.output and "Traceback" not in result.output
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "result.mp4").write_bytes(signed_clip.read_bytes())
    (folder / "notes.txt").write_text("not a media file")
    listed = CliRunner().invoke(cli, ["verify", str(folder)])
    assert listed.exit_code == 0, listed.output
    assert f"{folder / 'result.mp4'}:" in listed.output and "manifest: valid" in listed.output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = CliRunner().invoke(cli, ["verify", str(empty)])
    assert nothing.exit_code == 2 and "is a folder with no" in nothing.output
