"""Whisper: generation against the reference's tokens (eager and compiled) and against transformers on a model whose
rows differ, the forced and suppressed tokens of its generation config, the checks of `input_features`, the feature
extractor that travels with the model, and an export that generates from raw audio samples."""

import os

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tfmodels
from serving import export_saved_model
from tests.helpers import Case
from tests.tfmodels.models.model_checks import tiny_model
from tfmodels.audio_processing import WhisperFeatureExtractor


@pytest.fixture(scope="module")
def whisper():
    case = Case("whisper_lm")
    data = np.load(os.path.join(case.root, "io.npz"))
    return case, data, tfmodels.TFWhisperForConditionalGeneration.from_pretrained(case.path("tf_h5"))


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "compiled"])
def test_generation_gives_the_reference_tokens(whisper, jit_compile):
    """The reference's TF returns the decoder start token first, its PyTorch the new tokens only: ours is the
    former, equal to both. The generation config's suppressed tokens act (the fixture chose them so that they
    change the beam search)."""
    case, data, model = whisper
    settings = case.meta["generation"]
    for mode in ("greedy", "beam"):
        out = model.generate(data["gen.input_features"], max_new_tokens=settings["max_new_tokens"],
                             min_new_tokens=settings["min_new_tokens"], jit_compile=jit_compile,
                             **settings["modes"][mode]).numpy()
        np.testing.assert_array_equal(out, data[f"gen.tf.{mode}"], err_msg=mode)
        np.testing.assert_array_equal(out[:, 1:], data[f"gen.pt.{mode}"], err_msg=mode)


def _distinct_model():
    """A tiny Whisper whose weights are moved far enough that each row of features generates its own tokens."""
    model = tiny_model("TFWhisperForConditionalGeneration")
    rng = np.random.default_rng(1)
    for weight in model.weights:
        weight.assign(weight.numpy() + rng.normal(0, 0.3, weight.shape).astype(np.float32))
    model.generation_config.suppress_tokens = [5, 9]
    model.generation_config.begin_suppress_tokens = [2]
    return model


def test_saved_model_generates_as_transformers(tmp_path):
    model = _distinct_model()
    features = np.random.default_rng(2).normal(size=(3, 8, 16)).astype(np.float32)
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "generation_config.json", "model.safetensors",
                                            "preprocessor_config.json"]
    pt_model = transformers.WhisperForConditionalGeneration.from_pretrained(tmp_path).eval()
    for num_beams in (1, 3):
        ours = model.generate(features, max_new_tokens=6, num_beams=num_beams).numpy()
        with torch.no_grad():
            theirs = pt_model.generate(torch.tensor(features), max_new_tokens=6, num_beams=num_beams).numpy()
        assert len({tuple(row) for row in ours}) > 1  # the rows differ: the encoder matters
        np.testing.assert_array_equal(ours[:, 1:], theirs, err_msg=f"num_beams={num_beams}")
        assert not np.isin(ours[:, 1:], [5, 9]).any() and not (ours[:, 1] == 2).any()


def test_forced_decoder_ids_are_written_first_and_delay_the_begin_suppression(whisper):
    """Whisper's generation configs force its language, task and no-timestamps tokens after the start token; the
    tokens suppressed at the beginning are then suppressed after them, as the reference."""
    _, data, model = whisper
    features = data["gen.input_features"]
    free = model.generate(features, max_new_tokens=6).numpy()
    forced = model.generate(features, max_new_tokens=6, forced_decoder_ids=[[1, 40], [2, 41]],
                            begin_suppress_tokens=[free[0, 1], 95]).numpy()
    assert forced[:, 1:3].tolist() == [[40, 41], [40, 41]]
    assert free[0, 1] != forced[0, 3] and not (forced[:, 3] == 95).any()
    with pytest.raises(ValueError, match=r"positions start at 1"):
        model.generate(features, max_new_tokens=2, forced_decoder_ids=[[0, 40]])


def test_input_features_are_checked(whisper):
    _, data, model = whisper
    features = data["gen.input_features"]
    with pytest.raises(ValueError, match=r"\[batch, 8 mel bins, 30 frames\]; received \[2, 8, 20\]"):
        model.generate(features[:, :, :20], max_new_tokens=2)
    with pytest.raises(TypeError, match="must be floats"):
        model(input_features=features.astype(np.int32), decoder_input_ids=[[98]])
    with pytest.raises(ValueError, match="Pass input_features"):
        model(decoder_input_ids=[[98]])
    traced = tf.function(lambda x: model(input_features=x, decoder_input_ids=[[98]]).logits,
                         input_signature=[tf.TensorSpec([None, 8, None], tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="30 frames"):
        traced(features[:, :, :20])
    encoded = model.get_encoder()(features)
    np.testing.assert_allclose(model(encoder_outputs=encoded, decoder_input_ids=[[98], [98]]).logits,
                               model(input_features=features, decoder_input_ids=[[98], [98]]).logits, atol=1e-6)


def test_the_feature_extractor_travels_with_the_model(tmp_path):
    """Its `preprocessor_config.json` is read and written with the checkpoint; an extractor whose features the
    model cannot read is refused."""
    model = tiny_model("TFWhisperModel")
    extractor = WhisperFeatureExtractor(feature_size=8, sampling_rate=1600, hop_length=200, chunk_length=2)
    assert extractor.nb_max_frames == 16
    model.feature_extractor = extractor
    model.save_pretrained(tmp_path)
    reloaded = tfmodels.TFWhisperModel.from_pretrained(tmp_path)
    assert reloaded.feature_extractor == extractor
    assert transformers.WhisperFeatureExtractor.from_pretrained(tmp_path).hop_length == 200
    with pytest.raises(ValueError, match=r"makes 80 mel bins x 3000 frames; the model reads 8 x 16"):
        model.feature_extractor = WhisperFeatureExtractor()
    # Without a file: the reference's extractor with the model's mel bins and frames in 30 s; where no whole hop
    # gives them, none (the save writes no file, and asking for it says what to set).
    assert tiny_model("TFWhisperModel").feature_extractor.to_dict()["hop_length"] == 30 * 16000 // 16
    odd = tfmodels.TFWhisperModel(tfmodels.WhisperConfig(**{**model.config.to_dict(), "max_source_positions": 7}))
    odd.save_pretrained(tmp_path / "odd")
    assert not os.path.exists(tmp_path / "odd" / "preprocessor_config.json")
    with pytest.raises(ValueError, match="No default feature extractor gives 14 frames"):
        odd.feature_extractor


@pytest.mark.slow
def test_export_generates_from_audio_samples(tmp_path):
    """`generate_from_audio` pads or cuts 16 kHz samples to 30 s, computes the log-mel features in the graph and
    generates (the export's settings); verified in a TensorFlow-only process; `generate` serves features."""
    model = _distinct_model()
    path = export_saved_model(model, tmp_path / "export", generate=True, generation_kwargs={"max_new_tokens": 5})
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures) == ["generate", "generate_from_audio", "int64_serving", "serving_default"]
    seconds = np.arange(16000 * 3) / 16000
    audio = np.stack([0.4 * np.sin(2 * np.pi * 300 * seconds), 0.2 * np.sin(2 * np.pi * 1200 * seconds)])
    served = loaded.signatures["generate_from_audio"](audio=tf.constant(audio, tf.float32))
    features = model.feature_extractor(list(audio.astype(np.float32)), sampling_rate=16000)["input_features"]
    expected = model.generate(features, max_new_tokens=5).numpy()
    np.testing.assert_array_equal(served["sequences"].numpy(), expected)
    np.testing.assert_array_equal(loaded.signatures["generate"](input_features=features)["sequences"], expected)
