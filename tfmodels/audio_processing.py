"""Whisper's audio features in TensorFlow ops, as the reference's `WhisperFeatureExtractor` computes them: samples at
16 kHz padded or cut to 30 s, a centered STFT (periodic Hann window of `n_fft`, reflection padding), the power
spectrum through Slaney-style mel filters, `log10` clamped at 1e-10, floored 8 below each example's maximum and
scaled as `(x + 4) / 4`. Being TensorFlow ops, it runs inside an exported signature too, so a TF Serving client can
send raw samples.

Example:
    >>> extractor = WhisperFeatureExtractor()  # or .from_pretrained("openai/whisper-tiny")
    >>> extractor([waveform], sampling_rate=16000)["input_features"].shape  # [1, 80, 3000]
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf

from tfmodels.preprocessor_files import preprocessor_json, read_preprocessor_config, write_preprocessor_config



def hertz_to_mel(frequency: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    frequency = np.asarray(frequency, np.float64)
    linear = 3.0 * frequency / 200.0
    logarithmic = 15.0 + np.log(np.maximum(frequency, 1e-10) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(frequency >= 1000.0, logarithmic, linear)


def mel_to_hertz(mels: np.ndarray) -> np.ndarray:
    """The inverse of `hertz_to_mel`."""
    mels = np.asarray(mels, np.float64)
    linear = 200.0 * mels / 3.0
    logarithmic = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels - 15.0))
    return np.where(mels >= 15.0, logarithmic, linear)


def mel_filter_bank(num_frequency_bins: int, num_mel_filters: int, min_frequency: float, max_frequency: float,
                    sampling_rate: int) -> np.ndarray:
    """`[frequency bins, mel filters]` triangular filters evenly spaced on the mel scale, each normalised to unit
    area (Slaney), as the reference's `mel_filter_bank(norm="slaney", mel_scale="slaney")`.

    Example:
        >>> mel_filter_bank(201, 80, 0.0, 8000.0, 16000).shape
        (201, 80)
    """
    edges = mel_to_hertz(np.linspace(hertz_to_mel(min_frequency), hertz_to_mel(max_frequency), num_mel_filters + 2))
    bins = np.linspace(0, sampling_rate // 2, num_frequency_bins)
    slopes = edges[None, :] - bins[:, None]
    widths = np.diff(edges)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[None, :]


class WhisperFeatureExtractor:
    """The reference's `WhisperFeatureExtractor` settings and their TensorFlow implementation.

    Example:
        >>> extractor = WhisperFeatureExtractor(feature_size=80)
        >>> extractor(np.zeros(16000, np.float32), sampling_rate=16000)["input_features"].shape
        TensorShape([1, 80, 3000])
    """

    def __init__(self, feature_size: int = 80, sampling_rate: int = 16000, hop_length: int = 160,
                 chunk_length: int = 30, n_fft: int = 400, padding_value: float = 0.0, dither: float = 0.0,
                 return_attention_mask: bool = False, **kwargs: Any):
        for name, value in (("feature_size", feature_size), ("sampling_rate", sampling_rate),
                            ("hop_length", hop_length), ("chunk_length", chunk_length), ("n_fft", n_fft)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; received {value!r}.")
        if dither:
            raise ValueError(f"dither={dither} adds noise to every extraction; only dither=0.0 (the released "
                             "checkpoints' setting) is supported.")
        self.feature_size, self.sampling_rate, self.hop_length = feature_size, sampling_rate, hop_length
        self.chunk_length, self.n_fft, self.padding_value = chunk_length, n_fft, float(padding_value)
        self.dither, self.return_attention_mask = float(dither), bool(return_attention_mask)
        self.n_samples = chunk_length * sampling_rate
        self.nb_max_frames = self.n_samples // hop_length
        self.mel_filters = mel_filter_bank(1 + n_fft // 2, feature_size, 0.0, 8000.0, sampling_rate)
        kwargs = {key: value for key, value in kwargs.items() if key not in ("n_samples", "nb_max_frames",
                                                                           "mel_filters")}
        self.extra = kwargs  # other fields of the reference's file, written back unchanged

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> "WhisperFeatureExtractor":
        """Read `preprocessor_config.json` from a directory (or that file's path); `kwargs` override its fields."""
        return cls(**{**read_preprocessor_config(path), **kwargs})

    def to_dict(self) -> dict[str, Any]:
        """The settings as the reference writes them."""
        return {**self.extra, "feature_size": self.feature_size, "sampling_rate": self.sampling_rate,
                "hop_length": self.hop_length, "chunk_length": self.chunk_length, "n_fft": self.n_fft,
                "padding_value": self.padding_value, "dither": self.dither,
                "return_attention_mask": self.return_attention_mask, "n_samples": self.n_samples,
                "nb_max_frames": self.nb_max_frames, "feature_extractor_type": "WhisperFeatureExtractor"}

    def to_json_string(self) -> str:
        """`preprocessor_config.json`'s text: sorted keys, indent 2, a final newline."""
        return preprocessor_json(self.to_dict())

    def save_pretrained(self, directory: str | os.PathLike) -> str:
        """Write `preprocessor_config.json` into `directory`; returns its path."""
        return write_preprocessor_config(directory, self.to_dict())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WhisperFeatureExtractor) and self.to_dict() == other.to_dict()

    # ---- features -------------------------------------------------------------------------------------------
    def log_mel(self, samples: tf.Tensor) -> tf.Tensor:
        """`[batch, n_samples]` float32 samples (already padded or cut) to `[batch, feature_size, frames]`."""
        samples = tf.convert_to_tensor(samples, tf.float32)
        half = self.n_fft // 2
        padded = tf.pad(samples, [[0, 0], [half, half]], mode="REFLECT")
        stft = tf.signal.stft(padded, frame_length=self.n_fft, frame_step=self.hop_length, fft_length=self.n_fft,
                              window_fn=tf.signal.hann_window, pad_end=False)  # [batch, frames + 1, bins]
        power = tf.math.square(tf.abs(stft[:, :-1]))
        mel = tf.matmul(power, tf.constant(self.mel_filters, tf.float32))  # [batch, frames, mels]
        log_spec = tf.math.log(tf.maximum(mel, 1e-10)) / tf.math.log(10.0)
        log_spec = tf.maximum(log_spec, tf.reduce_max(log_spec, axis=[1, 2], keepdims=True) - 8.0)
        return tf.transpose((log_spec + 4.0) / 4.0, [0, 2, 1])

    def fit_length(self, samples: tf.Tensor) -> tf.Tensor:
        """`[batch, length]` samples padded with `padding_value` or cut to `n_samples` (30 s)."""
        samples = tf.convert_to_tensor(samples, tf.float32)[:, :self.n_samples]
        missing = self.n_samples - tf.shape(samples)[1]
        return tf.pad(samples, [[0, 0], [0, missing]], constant_values=self.padding_value)

    def __call__(self, raw_speech: Any, sampling_rate: int | None = None, return_tensors: str = "tf",
                 do_normalize: bool | None = None, return_attention_mask: bool | None = None) -> dict[str, Any]:
        """One waveform (a 1-D array of samples) or a list of them, at `sampling_rate` (checked against the
        extractor's), to `{"input_features": [batch, feature_size, nb_max_frames]}` (and the frames'
        `attention_mask` when asked). `do_normalize` scales each waveform to zero mean and unit variance first, as
        the reference."""
        if return_tensors not in ("tf", "np"):
            raise ValueError(f"return_tensors must be 'tf' or 'np'; received {return_tensors!r}.")
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(f"The audio is sampled at {sampling_rate} Hz; this extractor expects "
                             f"{self.sampling_rate} Hz. Resample it first (e.g. datasets' Audio(sampling_rate=...)).")
        if isinstance(raw_speech, (list, tuple)):  # waveforms, or one waveform as a list of samples
            waves = list(raw_speech) if raw_speech and np.ndim(raw_speech[0]) > 0 else [raw_speech]
        else:  # one waveform [samples], or a batch of equal length [batch, samples]
            waves = list(raw_speech) if np.ndim(raw_speech) == 2 else [raw_speech]
        arrays = []
        for wave in waves:
            array = np.asarray(wave, np.float32)
            if array.ndim != 1 or array.size == 0:
                raise ValueError(f"A waveform is a non-empty 1-D array of samples (mono); received shape "
                                 f"{array.shape}. Average the channels of a stereo recording first.")
            arrays.append(array)
        lengths = [min(len(array), self.n_samples) for array in arrays]
        if do_normalize:
            arrays = [(array - array[:n].mean()) / np.sqrt(array[:n].var() + 1e-7) for array, n in zip(arrays, lengths)]
        batch = np.full((len(arrays), self.n_samples), self.padding_value, np.float32)
        for row, (array, n) in enumerate(zip(arrays, lengths)):
            batch[row, :n] = array[:n]
        features = self.log_mel(batch)
        output = {"input_features": features.numpy() if return_tensors == "np" else features}
        if return_attention_mask or (return_attention_mask is None and self.return_attention_mask):
            mask = (np.arange(self.n_samples)[None, :] < np.array(lengths)[:, None]).astype(np.int32)
            output["attention_mask"] = mask[:, ::self.hop_length]
        return output
