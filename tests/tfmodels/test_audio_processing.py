"""`WhisperFeatureExtractor` against the reference's (transformers, test-only) on synthesised audio: the mel filters,
the log-mel features of tones, a chirp longer than 30 s and noise, its `preprocessor_config.json`, and bad input."""

import numpy as np
import pytest
import transformers

from tfmodels.audio_processing import WhisperFeatureExtractor


def waveforms() -> list[np.ndarray]:
    """A 440 Hz tone with noise (2 s), a chirp of 31 s (cut to 30), and 5 s of noise, at 16 kHz."""
    rng = np.random.default_rng(0)

    def seconds(duration):
        return np.arange(int(duration * 16000)) / 16000

    tone = 0.5 * np.sin(2 * np.pi * 440 * seconds(2.0)) + 0.05 * rng.normal(size=32000)
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 300 * seconds(31.0)) * seconds(31.0))
    return [wave.astype(np.float32) for wave in (tone, chirp, rng.normal(0, 0.1, 16000 * 5))]


@pytest.mark.parametrize("feature_size", [80, 128])  # whisper-tiny ... large-v2, and large-v3
@pytest.mark.parametrize("do_normalize", [False, True])
def test_features_match_the_reference(feature_size, do_normalize):
    reference = transformers.WhisperFeatureExtractor(feature_size=feature_size)
    ours = WhisperFeatureExtractor(feature_size=feature_size)
    np.testing.assert_allclose(ours.mel_filters, reference.mel_filters, atol=1e-12, rtol=0)
    kwargs = dict(sampling_rate=16000, return_tensors="np", do_normalize=do_normalize, return_attention_mask=True)
    expected = reference(waveforms(), **kwargs)
    got = ours(waveforms(), **kwargs)
    assert got["input_features"].shape == (3, feature_size, 3000)
    # float32 FFTs of two libraries: 1e-4 on values from about -0.5 to 1.5.
    np.testing.assert_allclose(got["input_features"], expected["input_features"], atol=2e-4, rtol=0)
    np.testing.assert_array_equal(got["attention_mask"], expected["attention_mask"])
    single = ours(waveforms()[0], sampling_rate=16000, return_tensors="np")["input_features"]
    np.testing.assert_allclose(single[0], ours(waveforms(), return_tensors="np")["input_features"][0], atol=1e-6)


def test_preprocessor_config_round_trips_with_the_reference(tmp_path):
    transformers.WhisperFeatureExtractor(feature_size=8, chunk_length=2).save_pretrained(tmp_path / "theirs")
    ours = WhisperFeatureExtractor.from_pretrained(tmp_path / "theirs")
    assert (ours.feature_size, ours.n_samples, ours.nb_max_frames) == (8, 32000, 200)
    ours.save_pretrained(tmp_path / "ours")
    again = transformers.WhisperFeatureExtractor.from_pretrained(tmp_path / "ours")
    wave = waveforms()[0]
    np.testing.assert_allclose(ours(wave, return_tensors="np")["input_features"],
                               again(wave, return_tensors="np")["input_features"], atol=2e-4, rtol=0)
    assert WhisperFeatureExtractor.from_pretrained(tmp_path / "ours") == ours


def test_bad_input_is_refused():
    extractor = WhisperFeatureExtractor()
    with pytest.raises(ValueError, match="sampled at 44100 Hz; this extractor expects 16000 Hz"):
        extractor(waveforms()[0], sampling_rate=44100)
    with pytest.raises(ValueError, match="Average the channels"):
        extractor([np.zeros((2, 100), np.float32)])
    with pytest.raises(ValueError, match="non-empty"):
        extractor([np.zeros(0, np.float32)])
    with pytest.raises(ValueError, match="only dither=0.0"):
        WhisperFeatureExtractor(dither=1e-5)
    with pytest.raises(ValueError, match="feature_size must be a positive integer"):
        WhisperFeatureExtractor(feature_size=0)
