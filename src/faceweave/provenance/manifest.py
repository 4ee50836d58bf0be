"""C2PA manifests: sign a finished output in place, and read one back for `verify`.

The manifest says the file was created by a trained algorithm (IPTC digital source type
trainedAlgorithmicMedia), names faceweave and its version, and is bound to the file's bytes by a
hash, so a changed byte shows as tampering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import c2pa

from faceweave import __version__
from faceweave.atomic import commit, discard, temp_path_for, write_bytes_atomic
from faceweave.errors import UserError, os_error_of, write_error
from faceweave.provenance import SYNTHETIC_NOTE
from faceweave.provenance.keys import SigningIdentity, signing_identity
from faceweave.records import ImageBGR

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
FORMATS = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".jpg": "image/jpeg",
           ".jpeg": "image/jpeg", ".png": "image/png"}  # fmt: skip


def manifest_definition(title: str) -> dict[str, object]:
    agent = {"name": "faceweave", "version": __version__}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            # A new file made by a trained model (C2PA wants created or opened first).
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": agent,
                            "description": SYNTHETIC_NOTE,
                        }
                    ]
                },
            }
        ],
    }


def sign_in_place(path: Path, identity: SigningIdentity | None = None) -> None:
    """Embed a signed manifest in `path` (MP4, MOV, JPEG, PNG); the file is replaced atomically."""
    sign_to(path, path, identity)


def sign_to(source_path: Path, path: Path, identity: SigningIdentity | None = None) -> None:
    """Write `source_path` with a signed manifest to `path`, atomically: `path` only ever appears
    signed. The format follows `path`'s suffix."""
    mime = FORMATS.get(path.suffix.lower())
    if mime is None:
        raise UserError(f"cannot sign {path.name}: faceweave signs {', '.join(sorted(FORMATS))} files")
    identity = identity or signing_identity()
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain_pem, identity.key_pem, None)
    temp = temp_path_for(path)
    try:
        definition = json.dumps(manifest_definition(path.name))
        with (
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder(definition) as builder,
            open(source_path, "rb") as source,
            open(temp, "wb") as dest,
        ):
            builder.sign(signer, mime, source, dest)
        commit(temp, path)
    except (OSError, c2pa.C2paError) as exc:
        discard(temp)
        cause = os_error_of(exc)
        if cause is not None:
            raise write_error(path, cause) from exc
        raise UserError(f"could not sign {path}: {exc}") from exc
    except BaseException:
        discard(temp)
        raise


@dataclass(frozen=True)
class ManifestStatus:
    present: bool
    valid: bool  # signature and content hash check out (the self-made signer is not publicly trusted)
    tampered: bool
    generator: str = ""
    synthetic: bool = False  # an action declares trainedAlgorithmicMedia
    detail: str = ""


def read_manifest(path: Path) -> ManifestStatus:
    try:
        with c2pa.Reader(str(path)) as reader:
            document = json.loads(reader.json())
            state = reader.get_validation_state()
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc) or "NotFound" in str(exc):
            return ManifestStatus(False, False, False, detail="no C2PA manifest")
        return ManifestStatus(True, False, True, detail=f"unreadable C2PA manifest ({exc})")
    active = document.get("manifests", {}).get(document.get("active_manifest", ""), {})
    generators = active.get("claim_generator_info") or [{}]
    generator = f"{generators[0].get('name', '?')} {generators[0].get('version', '')}".strip()
    synthetic = TRAINED_ALGORITHMIC_MEDIA in json.dumps(active.get("assertions", []))
    failures = [s.get("code", "") for s in document.get("validation_status", [])]
    broken = [code for code in failures if code != "signingCredential.untrusted"]
    valid = str(state) in ("Valid", "Trusted") and not broken
    detail = "valid, signed by a self-made (untrusted) certificate" if valid else ", ".join(broken)
    return ManifestStatus(True, valid, not valid, generator, synthetic, detail)


def write_signed_png(out: Path, image: ImageBGR) -> Path:
    """`image` as a PNG at `out` that carries the signed manifest from its first byte."""
    import cv2

    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise UserError(f"could not encode {out}")
    unsigned = out.with_name(f".{out.stem}.unsigned{out.suffix}")
    try:
        write_bytes_atomic(unsigned, data.tobytes())
        sign_to(unsigned, out)
    finally:
        discard(unsigned)
    return out
