"""Train a small Whisper-shaped model from a config to write down sequences of tones, from WAV files on disk, measure
exact-match accuracy before and after, save it (PyTorch layout + generation and preprocessor configs) and export it
for TF Serving with a signature that takes raw 16 kHz samples and returns token ids.

    python examples/speech_recognition.py [--clips 600] [--epochs 40] [--output-dir speech_out] [--quick]

No download: each clip is one or two tones (a "word" is one of six pitches, 0.25 s each, with noise), written as a
16 kHz WAV file, and its transcript is the pitches' tokens. The clips are read back as a `datasets.Dataset` with an
`Audio` column; `prepare_tf_dataset` turns them into log-mel features with the model's `WhisperFeatureExtractor`
(in TensorFlow ops, WAV decoded by TensorFlow). `--quick` (few clips, two epochs) only checks that everything runs.
"""

from __future__ import annotations

import argparse
import json
import os
import wave

RATE = 16000
PITCHES = (300, 500, 800, 1200, 1800, 2600)  # Hz: one token each
BOS, PAD, EOS, START = 0, 1, 2, 3
FIRST_WORD = 4
MAX_WORDS = 2


def draw(rng) -> tuple["np.ndarray", list[int]]:
    """One clip (float samples at 16 kHz) of one or two tones with noise, and its transcript's tokens."""
    import numpy as np

    words = rng.integers(0, len(PITCHES), rng.integers(1, MAX_WORDS + 1))
    seconds = np.arange(int(0.25 * RATE)) / RATE
    pieces = [np.zeros(int(rng.uniform(0.05, 0.2) * RATE))]
    for word in words:
        pieces += [0.4 * np.sin(2 * np.pi * PITCHES[word] * seconds), np.zeros(int(0.05 * RATE))]
    clip = np.concatenate(pieces)
    return (clip + 0.02 * rng.normal(size=clip.shape)).astype(np.float32), [FIRST_WORD + int(w) for w in words]


def write_wav(path: str, samples) -> None:
    import numpy as np

    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())


def exact_match(model, features, transcripts) -> tuple[float, list[list[int]]]:
    """The share of clips whose greedy transcript (up to its end token) is right, and the transcripts."""
    import numpy as np

    generated = model.generate(features, max_new_tokens=MAX_WORDS + 1).numpy()
    words = []
    for row in generated[:, 1:]:
        tokens = [int(t) for t in row]
        words.append(tokens[: tokens.index(EOS)] if EOS in tokens else tokens)
    return float(np.mean([w == t for w, t in zip(words, transcripts)])), words


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--output-dir", default="speech_out")
    parser.add_argument("--quick", action="store_true", help="a reduced run (tests): few clips, two epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.clips, args.epochs = 48, 2

    import datasets
    import keras
    import numpy as np
    import tensorflow as tf

    from serving import export_saved_model
    from tfmodels import TFWhisperForConditionalGeneration, WhisperConfig
    from tfmodels.audio_processing import WhisperFeatureExtractor

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    folder = os.path.join(args.output_dir, "clips")
    os.makedirs(folder, exist_ok=True)
    paths, transcripts = [], []
    for index in range(args.clips):
        clip, words = draw(rng)
        paths.append(os.path.join(folder, f"{index:04d}.wav"))
        write_wav(paths[-1], clip)
        transcripts.append(words)
    labels = [words + [EOS] for words in transcripts]
    rows = datasets.Dataset.from_dict({"audio": paths, "labels": [row + [-100] * (MAX_WORDS + 1 - len(row))
                                                                  for row in labels]})
    rows = rows.cast_column("audio", datasets.Audio(sampling_rate=RATE, decode=False))
    split = rows.train_test_split(test_size=0.2, seed=0)

    # 2 s clips: 40 mel bins of 200 frames (the encoder's 100 positions).
    extractor = WhisperFeatureExtractor(feature_size=40, chunk_length=2)
    config = WhisperConfig(vocab_size=FIRST_WORD + len(PITCHES), num_mel_bins=40, d_model=64, encoder_layers=2,
                           decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128,
                           decoder_ffn_dim=128, max_source_positions=100, max_target_positions=16, bos_token_id=BOS,
                           pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=START,
                           begin_suppress_tokens=[EOS])  # a clip says at least one word
    model = TFWhisperForConditionalGeneration(config)
    model.feature_extractor = extractor
    model.generation_config.begin_suppress_tokens = [EOS]
    train = model.prepare_tf_dataset(split["train"], batch_size=16, shuffle=True, seed=0)
    evaluation = next(iter(model.prepare_tf_dataset(split["test"], batch_size=len(split["test"]), shuffle=False)))
    features = evaluation[0]["input_features"].numpy()
    truth = [[int(t) for t in row if t not in (EOS, -100)] for row in evaluation[1].numpy()]
    accuracy_before, _ = exact_match(model, features, truth)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="auto")
    history = model.fit(train, epochs=args.epochs, verbose=2).history
    accuracy_after, written = exact_match(model, features, truth)
    print(f"exact match: {accuracy_before:.3f} before training, {accuracy_after:.3f} after {args.epochs} epochs")

    saved = os.path.join(args.output_dir, "model")
    model.save_pretrained(saved, safe_serialization=True)
    export = export_saved_model(model, os.path.join(args.output_dir, "export"), generate=True,
                                generation_kwargs={"max_new_tokens": MAX_WORDS + 1})
    served = tf.saved_model.load(export).signatures["generate_from_audio"]
    audio = [np.asarray(tf.audio.decode_wav(open(paths[i], "rb").read()).audio)[:, 0] for i in range(4)]
    longest = max(len(a) for a in audio)
    batch = np.stack([np.pad(a, (0, longest - len(a))) for a in audio])  # trailing silence: the padding
    sequences = served(audio=tf.constant(batch))["sequences"].numpy()
    served_words = [[int(t) for t in row[1:] if t not in (EOS, PAD)] for row in sequences]
    print(f"served from raw samples at {export}: {served_words} (truth {transcripts[:4]})")
    results = {"loss": history["loss"], "accuracy_before": accuracy_before, "accuracy_after": accuracy_after,
               "written": written[:8], "truth": truth[:8], "saved": saved, "export": export,
               "served": served_words, "served_truth": transcripts[:4]}
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
    return results


if __name__ == "__main__":
    main()
