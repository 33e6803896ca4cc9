"""A bundle is untrusted input (the app's 'Import model bundle'): every field is checked against
sane bounds, the weights against their checksum and for NaN/inf, before anything is built from
them. Each problem is one line naming the file and the field; `info --jsonl` reports every bundle."""

import json
import struct
import zipfile
from dataclasses import fields, replace

import pytest
import torch
from conftest import ROOT

from damer_core.cli import main as cli
from damer_core.features.spectra import CLIP, PRESETS, TUNED_PATHS, FeatureConfig
from damer_core.models.checkpoint import (
    CHECKSUM,
    FEATURE_BOUNDS,
    FORMAT,
    MODEL_BOUNDS,
    BundleError,
    build_models,
    load_checkpoint,
    save_atomic,
    with_checksums,
)
from damer_core.models.network import DAMER, ModelConfig

BUILTIN = ROOT / "tests" / "data" / "damer-4q-binary.pt"  # a DAMER network bundle: its weights are what these checks mutate
TINY = ModelConfig(d_model=16, n_heads=2, n_layers=1, fusion_dim=16)


def tiny_entry(model: ModelConfig = TINY) -> dict:
    return {"state_dict": DAMER(model).state_dict(), "epoch": 3, "temperature": 1.5, "temperature_source": "validation part",
            "calibration": {"val": {"ece_before": 0.1, "ece_after": 0.05, "n": 40}},
            "metrics": {"val": {"fuse": {"acc": 0.9, "auc": float("nan"), "n": 40}}}}


def tiny_bundle(feature: FeatureConfig = CLIP) -> dict:
    """Both dimensions of a small untrained model (as many Mel-stream tokens as ``feature`` gives),
    with the metadata a trained bundle carries."""
    torch.manual_seed(0)
    model = replace(TINY, n_mel=feature.n_mels)
    return {"format": FORMAT, "format_version": 1, "damer_core_version": "0.1.0", "created": "2026-01-01T00:00:00",
            "feature_config": feature.to_dict(), "model_config": model.to_dict(), "train_config": {"epochs": 3},
            "data": {"name": "tiny"}, "split": {"by": "track", "train": 10, "val": 3, "test": 5},
            "quadrant": {"test": {"acc": 0.5, "macro_f1": 0.4, "n": 5}},
            "dimensions": {"arousal": tiny_entry(model), "valence": tiny_entry(model)}}


def write(path, bundle: dict, checksums: bool = True):
    return save_atomic(with_checksums(bundle) if checksums else bundle, path)


@pytest.fixture
def good(tmp_path):
    return write(tmp_path / "good.pt", tiny_bundle())


def refused(path, *expected: str) -> str:
    """The one-line reason ``path`` is refused; it names the file and holds every ``expected``."""
    with pytest.raises(BundleError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(f"{path.name}: ") and "\n" not in message, message
    for text in expected:
        assert text in message, message
    return message


def section(key: str, field: str, value):
    def edit(b):
        b[key][field] = value
    return edit


def entry_field(field: str, value, dim: str = "arousal"):
    def edit(b):
        b["dimensions"][dim][field] = value
    return edit


def top(key: str, value):
    def edit(b):
        b[key] = value
    return edit


def delete(key: str):
    def edit(b):
        del b[key]
    return edit


def nested(depth: int):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


TAMPERED = [  # (id, edit, what the line must say)
    (
        "hop0",
        section("feature_config", "hop_length", 0),
        "bundle field feature.hop_length = 0: must be an integer from 1 to 65536",
    ),
    ("sr0", section("feature_config", "sample_rate", 0), "bundle field feature.sample_rate = 0: must be an integer"),
    ("sr1e9", section("feature_config", "sample_rate", 1e9), "feature.sample_rate = 1000000000.0: must be an integer"),
    ("sr10e9int", section("feature_config", "sample_rate", 10**9), "feature.sample_rate = 1000000000: must be"),
    ("nfft2e28", section("feature_config", "n_fft", 2**28), "feature.n_fft = 268435456: must be an integer from 16 to"),
    ("nfft<frame", section("feature_config", "n_fft", 256), "feature.n_fft = 256: must be at least feature.frame_length"),
    ("frame-str", section("feature_config", "frame_length", "512"), "feature.frame_length = '512': must be an integer"),
    ("center", section("feature_config", "center", "yes"), "feature.center = 'yes': must be true or false"),
    ("name", section("feature_config", "name", "a\nb"), "feature.name = 'a\\nb': must be a name"),
    ("preemph", section("feature_config", "preemphasis", 1.0), "feature.preemphasis = 1.0: must be a number from 0 to 0.99"),
    ("floor", section("feature_config", "log_floor", 0.0), "feature.log_floor = 0.0: must be a number"),
    ("powerlaw-nan", section("feature_config", "power_law", float("nan")), "feature.power_law = nan: must be a number"),
    ("seg-inf", section("feature_config", "segment_length_s", float("inf")), "feature.segment_length_s = inf"),
    ("fmin", section("feature_config", "gammatone_fmin", -1.0), "feature.gammatone_fmin = -1.0"),
    ("gt-nyquist", section("feature_config", "n_gammatone", 300), "feature.n_gammatone = 300: its highest band"),
    (
        "window",
        lambda b: b["feature_config"].update(hop_length=65536, sample_rate=8000, gammatone_fmin=20.0),
        "feature.n_frames = 87: one window with this hop_length and sample_rate lasts 705 s; at most 600 s",
    ),
    ("feat-unknown", section("feature_config", "bogus", 1), "bundle field feature.bogus = 1: unknown feature setting"),
    ("feat-list", top("feature_config", [1, 2]), "bundle field feature_config = [1, 2]: must be a dict of settings"),
    ("heads3", section("model_config", "n_heads", 3), "bundle field model.n_heads = 3: must divide model.d_model (16)"),
    ("dmodel-4", section("model_config", "d_model", -4), "bundle field model.d_model = -4: must be an integer from 1"),
    ("dmodel-huge", section("model_config", "d_model", 10**6), "model.d_model = 1000000: must be an integer"),
    ("layers0", section("model_config", "n_layers", 0), "model.n_layers = 0: must be an integer"),
    ("classes3", section("model_config", "n_classes", 3), "model.n_classes = 3: must be 2"),
    ("dropout", section("model_config", "dropout", 1.5), "model.dropout = 1.5: must be a number"),
    ("cross-int", section("model_config", "cross_attention", 1), "model.cross_attention = 1: must be true or false"),
    ("frames", section("model_config", "n_frames", 40), "model.n_frames = 40: must equal feature.n_frames (87)"),
    ("nmel", section("model_config", "n_mel", 64), "model.n_mel = 64: must equal feature.n_mels (128)"),
    ("model-str", top("model_config", "abc"), "bundle field model_config = 'abc': must be a dict"),
    ("dims-list", top("dimensions", ["arousal"]), "bundle field dimensions = ['arousal']: must be a dict"),
    (
        "dims-unknown",
        lambda b: b["dimensions"].update(happiness=b["dimensions"].pop("valence")),
        "bundle field dimensions key = 'happiness': must be arousal or valence",
    ),
    ("dims-empty", top("dimensions", {}), "bundle holds no trained dimension"),
    ("entry-str", lambda b: b["dimensions"].update(arousal="x"), "bundle field dimensions.arousal = 'x': must be a dict"),
    ("no-weights", lambda b: b["dimensions"]["arousal"].pop("state_dict"), "dimensions.arousal.state_dict is missing"),
    ("weights-list", entry_field("state_dict", [1]), "dimensions.arousal.state_dict = [1]: must be a dict"),
    (
        "weight-int",
        lambda b: b["dimensions"]["valence"]["state_dict"].update({"proj_mel.weight": 3}),
        "dimensions.valence.state_dict['proj_mel.weight'] is not a tensor (int): must be a tensor of floats",
    ),
    (
        "weight-long",
        lambda b: b["dimensions"]["arousal"]["state_dict"].update({"mel_std": torch.ones(128, 1).long()}),
        "dimensions.arousal.state_dict['mel_std'] is a torch.int64 torch.strided tensor: must be a tensor of floats",
    ),
    ("temp0", entry_field("temperature", 0), "dimensions.arousal.temperature = 0: must be a number from 0.01 to 100"),
    ("temp-nan", entry_field("temperature", float("nan")), "dimensions.arousal.temperature = nan"),
    ("temp-str", entry_field("temperature", "hot"), "dimensions.arousal.temperature = 'hot': must be a number"),
    ("calib-str", entry_field("calibration", "x"), "dimensions.arousal.calibration = 'x': must be a dict"),
    (
        "calib-leaf",
        entry_field("calibration", {"val": {"ece_before": "low"}}),
        "dimensions.arousal.calibration.val.ece_before = 'low': must be a number",
    ),
    (
        "metric-leaf",
        entry_field("metrics", {"test": {"fuse": {"acc": "high"}}}),
        "dimensions.arousal.metrics.test.fuse.acc = 'high': must be a number",
    ),
    ("epoch", entry_field("epoch", -1), "dimensions.arousal.epoch = -1: must be an integer"),
    ("checksum-str", entry_field(CHECKSUM, "abc"), f"dimensions.arousal.{CHECKSUM} = 'abc': must be 64 hexadecimal"),
    ("version-abc", top("format_version", "abc"), "bundle field format_version = 'abc': must be an integer from 1 to 2"),
    ("version-0", top("format_version", 0), "bundle field format_version = 0: must be an integer from 1 to 2"),
    ("version-new", top("format_version", 99), "written by a newer damer-core (bundle format 99)"),
    ("version-none", delete("format_version"), "incomplete bundle: missing 'format_version'"),
    ("split", top("split", {"by": "track"}), "bundle field split.train is missing: must be an integer"),
    (
        "quadrant",
        top("quadrant", {"test": {"n": 5, "acc": 0.5}}),
        "bundle field quadrant.test.macro_f1 is missing: must be a number",
    ),
    ("created", top("created", 5), "bundle field created = 5: must be text"),
    ("data", top("data", "x"), "bundle field data = 'x': must be a dict"),
    ("deep", top("data", {"x": nested(100)}), "refused: its values nest more than 32 levels deep"),
]


@pytest.mark.parametrize("edit,expected", [t[1:] for t in TAMPERED], ids=[t[0] for t in TAMPERED])
def test_tampered_field_is_one_line_naming_it(tmp_path, capsys, edit, expected):
    bundle = tiny_bundle()
    edit(bundle)
    path = write(tmp_path / "model.pt", bundle, checksums=False)
    refused(path, expected)
    assert cli.main(["info", str(path)]) == 2  # the CLI prints it as is: one line, no traceback
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_bounds_cover_every_config_field_and_every_preset_loads(tmp_path):
    assert set(FEATURE_BOUNDS) == {f.name for f in fields(FeatureConfig)}
    assert set(MODEL_BOUNDS) == {f.name for f in fields(ModelConfig)}
    for name, cfg in PRESETS.items():
        if cfg.mel_path in TUNED_PATHS:  # a preset to train with: a bundle names the musicnn layers it trained
            with pytest.raises(BundleError, match="feature.midend"):
                load_checkpoint(write(tmp_path / f"{name}.pt", tiny_bundle(cfg)))
            continue
        b = load_checkpoint(write(tmp_path / f"{name}.pt", tiny_bundle(cfg)))
        assert b["feature_config"] == cfg.to_dict()


@pytest.mark.parametrize("tampered", ["sample_rate", "n_fft"])
def test_refused_before_any_feature_extraction(tmp_path, capsys, monkeypatch, real_tracks, tampered):
    import damer_core.inference.predictor

    def never(*args, **kwargs):
        raise AssertionError("features were extracted with a tampered config")

    monkeypatch.setattr(damer_core.inference.predictor, "track_features", never)
    bundle = tiny_bundle()
    bundle["feature_config"][tampered] = {"sample_rate": 10**9, "n_fft": 2**28}[tampered]
    path = write(tmp_path / "model.pt", bundle)
    assert cli.main(["predict", "--checkpoint", str(path), str(real_tracks[0])]) == 2
    assert f"bundle field feature.{tampered}" in capsys.readouterr().err


def test_checksums_are_written_and_round_trip(good):
    b = load_checkpoint(good)
    assert all(len(e[CHECKSUM]) == 64 for e in b["dimensions"].values())
    assert set(build_models(b, good)) == {"arousal", "valence"}


def test_a_flipped_bit_is_damage(good):
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:  # the largest tensor's bytes: stored, so at a known offset
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    data[info.header_offset + 30 + name_len + extra_len + info.file_size // 2] ^= 0x04
    flipped = good.with_name("flipped.pt")
    flipped.write_bytes(bytes(data))
    assert torch.load(flipped, weights_only=True)["format"] == FORMAT  # torch itself does not notice
    refused(flipped, "weights do not match their checksum: the file is damaged")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("checksums", [True, False])
def test_non_finite_weights_are_refused(tmp_path, value, checksums):
    bundle = tiny_bundle()
    bundle["dimensions"]["valence"]["state_dict"]["head_fuse.weight"][0, 0] = value
    refused(write(tmp_path / "model.pt", bundle, checksums), "valence weights contain NaN or inf (head_fuse.weight)")


def test_zero_normalisation_is_refused(tmp_path):
    bundle = tiny_bundle()
    bundle["dimensions"]["arousal"]["state_dict"]["mel_std"].zero_()
    refused(write(tmp_path / "model.pt", bundle), "mel_std holds values <= 0")


def test_cut_off_state_dict(tmp_path):
    bundle = with_checksums(tiny_bundle())
    del bundle["dimensions"]["arousal"]["state_dict"]["head_fuse.bias"]
    refused(write(tmp_path / "sealed.pt", bundle, checksums=False), "arousal weights do not match their checksum")
    del bundle["dimensions"]["arousal"][CHECKSUM]  # an older bundle, no checksum: the model says what is missing
    refused(write(tmp_path / "old.pt", bundle, checksums=False),
            "weights for arousal do not fit the model (missing: head_fuse.bias)")
    bundle = tiny_bundle()
    bundle["dimensions"]["arousal"]["state_dict"]["head_fuse.weight"] = torch.zeros(2, 8)
    refused(write(tmp_path / "shape.pt", bundle), "head_fuse.weight has shape [2, 8], the model config needs [2, 16]")


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.99])
def test_cut_off_file(good, fraction):
    data = good.read_bytes()
    cut = good.with_name("cut.pt")
    cut.write_bytes(data[: int(len(data) * fraction)])
    refused(cut, "truncated or corrupt file")


def test_a_folder_and_a_compressed_archive(good, tmp_path):
    folder = tmp_path / "run.pt"
    folder.mkdir()
    refused(folder, "is a folder, not a bundle file")
    packed = tmp_path / "packed.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    refused(packed, "compressed records")


def test_old_bundles_without_checksums_still_load(tmp_path):
    path = write(tmp_path / "old.pt", tiny_bundle(), checksums=False)
    assert set(build_models(load_checkpoint(path), path)) == {"arousal", "valence"}


def test_the_built_in_bundle_still_loads():
    b = load_checkpoint(BUILTIN)
    assert set(b["dimensions"]) == {"arousal", "valence"}
    assert all(CHECKSUM not in e for e in b["dimensions"].values())  # written before checksums
    assert set(build_models(b, BUILTIN)) == {"arousal", "valence"}


def info_lines(capsys, *paths) -> tuple[int, list[dict]]:
    code = cli.main(["info", "--jsonl", *map(str, paths)])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_info_jsonl_reports_every_bundle(tmp_path, capsys, good):
    other = write(tmp_path / "other.pt", tiny_bundle())
    bad = tiny_bundle()
    bad["feature_config"]["hop_length"] = 0
    bad = write(tmp_path / "bad.pt", bad)
    code, lines = info_lines(capsys, good, bad, other)
    assert code == 1 and [e["event"] for e in lines] == ["info", "bundle_error", "info"]
    assert [e["path"] for e in lines] == [str(good), str(bad), str(other)]
    assert lines[1]["message"] == "bad.pt: bundle field feature.hop_length = 0: must be an integer from 1 to 65536"
    assert info_lines(capsys, good, other)[0] == 0


def test_info_jsonl_words_each_kind_of_bad_file(tmp_path, capsys, good, monkeypatch):
    folder = tmp_path / "folder.pt"
    folder.mkdir()
    version = tiny_bundle()
    version["format_version"] = "abc"
    version = write(tmp_path / "version.pt", version)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:1000])
    code, lines = info_lines(capsys, folder, version, cut, good)
    assert code == 1 and len(lines) == 4 and lines[3]["event"] == "info"
    assert [e["message"] for e in lines[:3]] == [
        "folder.pt: is a folder, not a bundle file (choose the .pt file inside it)",
        "version.pt: bundle field format_version = 'abc': must be an integer from 1 to 2",
        "cut.pt: truncated or corrupt file (not a complete checkpoint)",
    ]
    import damer_core.models.checkpoint

    real = damer_core.models.checkpoint.load_checkpoint

    def surprise(path):
        if str(path).endswith("version.pt"):
            raise RuntimeError("something nobody foresaw\nsecond line")
        return real(path)

    monkeypatch.setattr(damer_core.models.checkpoint, "load_checkpoint", surprise)
    code, lines = info_lines(capsys, version, good)
    assert code == 1 and [e["event"] for e in lines] == ["bundle_error", "info"]
    assert lines[0]["message"] == "version.pt: cannot be read (something nobody foresaw second line)"
