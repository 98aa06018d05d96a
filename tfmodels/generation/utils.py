"""`GenerationMixin`: `generate()` with greedy search, sampling and beam search, eagerly or compiled with XLA.

One implementation serves every strategy and both modes: the key/value cache is allocated once at its final length
and written in place (`cache_position`), the loop is a `tf.while_loop` over static shapes (a Python loop when
eager, one XLA program when compiled), and every logits processor works on a fixed-size sequence buffer.

Models plug in with three hooks:
- `init_generation_cache(batch_size, max_length)`: the empty cache;
- `generation_forward(...)` (default: `self(..., past_key_values=cache, cache_position=i)`), which returns the
  next-token logits and the updated cache;
- `encode_for_generation(input_ids, attention_mask)` for encoder-decoder models (`config.is_encoder_decoder`): the
  encoder runs once, its output is passed to every decoder step (`encoder_outputs`), and decoding starts from
  `decoder_start_token_id`; `expand_encoder_outputs(encoder_outputs, expand)` repeats its rows per beam.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfmodels.generation.configuration import GenerationConfig
from tfmodels.generation.logits_process import LogitsProcessorList, build_logits_processors
from tfmodels.keras_private import in_xla_compilation
from tfmodels.layers.core import transposable_layers, use_transposed_kernels
from tfmodels.layers.core import transpose_kernels as transpose_kernels_of
from tfmodels.modeling_outputs import ModelOutput

logger = logging.getLogger(__name__)

_LARGE_NEGATIVE = -1.0e9
_TRANSPOSED_KERNEL_ROWS = 1  # compiled decoding of this many rows (batch x beams) or fewer transposes kernels,
_TRANSPOSED_KERNEL_BYTES = 2 ** 30  # when they hold at most this many bytes (the copies live through the call)
_SERVED_PROMPT_MULTIPLE = 32  # compiled served signatures pad prompts to multiples of this: few XLA programs


class GenerateOutput(ModelOutput):
    """`generate(return_dict_in_generate=True)`: `sequences`, `scores` (one `[rows, vocab]` tensor of processed
    scores per step, with `output_scores=True`), `sequences_scores` (beam search, with `output_scores=True`) and
    `sequence_lengths` (tokens before padding, prompt included)."""

    _fields = ("sequences", "scores", "sequences_scores", "sequence_lengths")


def _checked_batch_sizes(batch_sizes: Sequence[int]) -> tuple[int, ...]:
    """`batch_sizes` of `generation_serving_functions`, refused unless distinct positive integers."""
    sizes = tuple(batch_sizes) if isinstance(batch_sizes, (list, tuple)) else None
    if sizes is None or len(set(sizes)) != len(sizes) or not all(
            isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size > 0 for size in sizes):
        raise ValueError(f"batch_sizes must be a list of distinct positive integers (the row counts that get their "
                         f"own served program, e.g. [1, 8]); received {batch_sizes!r}.")
    return tuple(int(size) for size in sizes)


def _write_column(buffer: tf.Tensor, column: tf.Tensor, index) -> tf.Tensor:
    """`buffer[..., index] = column` for a `[..., length]` buffer, with static shapes."""
    hit = tf.equal(tf.range(tf.shape(buffer)[-1]), index)
    return tf.where(hit, tf.cast(column, buffer.dtype)[..., None], buffer)


def _isin(tokens: tf.Tensor, token_ids: list[int]) -> tf.Tensor:
    if not token_ids:
        return tf.zeros_like(tokens, tf.bool)
    return tf.reduce_any(tf.equal(tokens[..., None], tf.constant(token_ids, tokens.dtype)), axis=-1)


def _mix32(x: tf.Tensor) -> tf.Tensor:
    """MurmurHash3's 32-bit finalizer on int64 tensors holding 32-bit values (integer ops only)."""
    def shift_xor(value, bits):
        return tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, tf.constant(bits, tf.int64)))

    mask = tf.constant(0xFFFFFFFF, tf.int64)
    x = tf.bitwise.bitwise_and(x, mask)
    x = tf.bitwise.bitwise_and(shift_xor(x, 16) * 0x85EBCA6B, mask)
    x = tf.bitwise.bitwise_and(shift_xor(x, 13) * 0xC2B2AE35, mask)
    return shift_xor(x, 16)


def _gumbel(shape, seed: tf.Tensor, step) -> tf.Tensor:
    """Gumbel noise from a counter-based hash of (seed, step, element): integer arithmetic, so the draws are the
    same eagerly and under XLA up to the rounding of the logarithms (TensorFlow's stateless random kernels and
    XLA's draw different numbers)."""
    xor = tf.bitwise.bitwise_xor
    key = _mix32(xor(_mix32(tf.cast(seed, tf.int64)), tf.cast(step, tf.int64) * 0x9E3779B1))
    counter = tf.reshape(tf.range(tf.reduce_prod(shape), dtype=tf.int64), shape)
    bits = _mix32(_mix32(xor(counter * 0x27D4EB2F, key)) + key)
    top24 = tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.int64)), tf.float32)
    uniform = (top24 + 0.5) / float(1 << 24)  # in (0, 1)
    return -tf.math.log(-tf.math.log(uniform))


class GenerationMixin:
    """`generate()` for models whose `can_generate()` is True (see the module docstring for the hooks).

    Example:
        >>> out = model.generate(ids, attention_mask=mask, max_new_tokens=20, num_beams=4)
        >>> out = model.generate(ids, max_new_tokens=20, do_sample=True, top_p=0.9, seed=0, jit_compile=True)
    """

    generation_cache_batch_axis: int = 1  # GPT-2's cache: one [2, batch, heads, slots, dim] tensor per layer

    @property
    def generation_config(self) -> GenerationConfig:
        """The default `GenerationConfig` (from `generation_config.json`, else from the model config)."""
        state = self.runtime_state
        if state.generation_config is None:
            state.generation_config = GenerationConfig.from_model_config(self.config)
        return state.generation_config

    @generation_config.setter
    def generation_config(self, value: GenerationConfig) -> None:
        if not isinstance(value, GenerationConfig):
            raise TypeError(f"generation_config must be a GenerationConfig; received {type(value).__name__}.")
        self.runtime_state.generation_config = value

    # ---- model hooks --------------------------------------------------------------------------------------------
    def init_generation_cache(self, batch_size, max_length):
        """The empty key/value cache of `max_length` slots for `batch_size` rows (models that generate define it)."""
        raise NotImplementedError(f"{type(self).__name__} does not define init_generation_cache().")

    def generation_forward(self, input_ids, attention_mask, position_ids, cache, cache_position,
                           encoder_outputs=None, encoder_attention_mask=None):
        """One decoder pass over `input_ids` written at `cache_position`: `(logits of the last position, cache)`."""
        kwargs = {}
        if encoder_outputs is not None:
            kwargs.update(encoder_outputs=encoder_outputs, encoder_attention_mask=encoder_attention_mask)
        output = self(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                      past_key_values=cache, cache_position=cache_position, use_cache=True, return_dict=True,
                      training=False, **kwargs)
        return output["logits"][:, -1, :], tuple(output["past_key_values"])

    def reorder_generation_cache(self, cache, beam_rows: tf.Tensor):
        """The cache rows `beam_rows` (beam search keeps the best beams)."""
        return tf.nest.map_structure(lambda t: tf.gather(t, beam_rows, axis=self.generation_cache_batch_axis), cache)

    def encode_for_generation(self, input_ids, attention_mask):
        """Encoder-decoder models: the encoder output every decoding step attends to."""
        raise NotImplementedError(f"{type(self).__name__} is an encoder-decoder model without encode_for_generation().")

    def expand_encoder_outputs(self, encoder_outputs, expand: int):
        """Encoder-decoder models: `encode_for_generation`'s output with each row repeated `expand` times (one per
        beam or returned sequence), along each tensor's batch axis."""
        raise NotImplementedError(f"{type(self).__name__} is an encoder-decoder model without "
                                  "expand_encoder_outputs().")

    # ---- public API ---------------------------------------------------------------------------------------------
    # Traced as it is in a user's tf.function: autograph's conversion of the loop's Python would add nothing (its
    # control flow is already tf.while_loop / tf.cond) and slow down the first call.
    @tf.autograph.experimental.do_not_convert
    def generate(self, input_ids=None, attention_mask=None, generation_config: GenerationConfig | None = None,
                 streamer=None, seed: int | None = None, jit_compile: bool = False,
                 logits_processor: LogitsProcessorList | None = None, **kwargs: Any):
        """Generate token ids after `input_ids` (`[batch, length]`; left-padded with `attention_mask` for a
        batch of different lengths). Keyword arguments override `generation_config` (default: the model's).

        Returns the sequences, prompt included (`[batch * num_return_sequences, length]`, finished rows padded with
        `pad_token_id`), or with `return_dict_in_generate=True` a `GenerateOutput`. `seed` makes sampling
        reproducible (eager and compiled draw the same tokens); `jit_compile=True` runs the whole loop as one XLA
        program (prompts are left-padded to `pad_to_multiple_of` so that few shapes compile). Inside a user's
        `tf.function`, sequences come back at their full `max_length`. `logits_processor` (a
        `LogitsProcessorList`) runs after the configured processors.

        Example:
            >>> model.generate(ids, attention_mask=mask, max_new_tokens=8, num_beams=3)
        """
        if not self.can_generate():
            raise TypeError(f"{type(self).__name__} cannot generate (it has no language-modelling head); use a "
                            "model whose can_generate() is True, e.g. TFAutoModelForCausalLM.")
        source_name = self.main_input_name  # what the encoder reads: token ids, or Whisper's input_features
        if source_name != "input_ids" and source_name in kwargs:
            input_ids = kwargs.pop(source_name)
        config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        unused = config.update(**kwargs)
        if unused:
            raise TypeError(f"generate() got unknown arguments {sorted(unused)}: pass GenerationConfig fields "
                            f"(max_new_tokens, num_beams, do_sample, ...) or model inputs {source_name}"
                            + ("/attention_mask." if source_name == "input_ids" else "."))
        if input_ids is None:
            raise ValueError(f"generate() needs {source_name}" + (
                " ([batch, length] token ids of the prompts)." if source_name == "input_ids" else "."))
        if streamer is not None and (jit_compile or not tf.executing_eagerly()):
            raise ValueError("streamer works in eager mode only; drop jit_compile or the enclosing tf.function.")
        if streamer is not None and config.num_beams > 1:
            raise ValueError("streamer is not supported with beam search (num_beams > 1).")
        if source_name != "input_ids":
            return self._generate_from_source(input_ids, config, seed, jit_compile, logits_processor, streamer)
        eager = tf.executing_eagerly()
        # The prompt checked on the host (ids, shapes, lengths): a compiled loop could not raise (XLA).
        checked = self.check_inputs({"input_ids": input_ids, "attention_mask": attention_mask})
        input_ids = tf.cast(tf.convert_to_tensor(checked["input_ids"]), tf.int32)
        attention_mask = checked["attention_mask"]
        if input_ids.shape.rank != 2:
            raise ValueError(f"input_ids must be [batch, length]; received shape {input_ids.shape}.")
        if input_ids.shape[0] == 0:
            raise ValueError("generate() received no prompts (input_ids of shape "
                             f"{input_ids.shape.as_list()}); pass at least one row.")
        if input_ids.shape[1] == 0:
            raise ValueError("generate() needs at least one prompt token per row; received input_ids of shape "
                             f"{input_ids.shape.as_list()}. Start from the bos token: [[config.bos_token_id]].")
        eos = config.eos_token_ids
        if config.pad_token_id is None and eos:
            logger.warning("Setting pad_token_id to eos_token_id %d for open-end generation.", eos[0])
            config.pad_token_id = eos[0]
        if attention_mask is None:
            attention_mask = self._default_attention_mask(input_ids, config)
        attention_mask = tf.cast(tf.convert_to_tensor(attention_mask), tf.int32)
        if eager and not self.config.is_encoder_decoder and bool(tf.reduce_any(attention_mask[:, -1] == 0)):
            logger.warning("A decoder-only model got a right-padded batch: generated tokens would follow the padding. "
                           "Pad on the left (tokenizer padding_side='left') for correct results.")
        input_ids, attention_mask, added = self._pad_to_bucket(input_ids, attention_mask, config,
                                                               right=self.config.is_encoder_decoder)
        prompt_length = input_ids.shape[1] if input_ids.shape[1] is not None else tf.shape(input_ids)[1]
        if self.config.is_encoder_decoder:  # the padding went to the encoder; the decoder starts from one token
            prompt_length, added = 1, 0
        if config.max_new_tokens is not None:
            max_length = prompt_length + config.max_new_tokens
        else:
            max_length = config.max_length + added
        if isinstance(prompt_length, int) and max_length <= prompt_length:
            raise ValueError(f"max_length ({max_length - added}) leaves no room after the prompt of length "
                             f"{prompt_length - added}: pass max_new_tokens (the number of tokens to add) instead.")
        positions = self.max_sequence_length()
        if positions is not None and isinstance(prompt_length, int) and max_length - added > positions:
            raise ValueError(f"Generating up to {max_length - added} tokens (a prompt of {prompt_length - added} "
                             f"plus new ones) exceeds the model's {positions} positions: lower max_new_tokens to "
                             f"{positions - prompt_length + added} or shorten the prompt.")
        seed_tensor = tf.constant(np.random.randint(0, 2**31 - 1) if seed is None else seed, tf.int64)
        if jit_compile:
            run = self._compiled_generate(config, max_length, logits_processor)
            result = run(input_ids, attention_mask, seed_tensor)
        else:  # eagerly, or traced in the caller's tf.function (compiled by XLA when it has jit_compile=True)
            result = self._generate_tensors(input_ids, attention_mask, seed_tensor, config, max_length,
                                            logits_processor, streamer)
        return self._finish_outputs(result, config, added, eager)

    def _generate_from_source(self, source, config: GenerationConfig, seed, jit_compile: bool, logits_processor,
                              streamer):
        """`generate` for an encoder of inputs other than token ids (`main_input_name`: Whisper's
        `input_features`): the source checked as a call checks it, every row decoded from the decoder start token,
        and no attention mask (the encoder reads whole rows)."""
        name = self.main_input_name
        source = tf.convert_to_tensor(self.check_inputs({name: source})[name])
        if config.pad_token_id is None and config.eos_token_ids:
            config.pad_token_id = config.eos_token_ids[0]
        max_length = 1 + (config.max_new_tokens if config.max_new_tokens is not None else config.max_length - 1)
        positions = self.max_sequence_length()
        if positions is not None and max_length > positions:
            raise ValueError(f"Generating up to {max_length} tokens (the decoder start token plus new ones) exceeds "
                             f"the model's {positions} positions: lower max_new_tokens to {positions - 1}.")
        rows_mask = tf.ones([tf.shape(source)[0], 1], tf.int32)  # one column per row: the batch, nothing masked
        seed_tensor = tf.constant(np.random.randint(0, 2**31 - 1) if seed is None else seed, tf.int64)
        if jit_compile:
            result = self._compiled_generate(config, max_length, logits_processor)(source, rows_mask, seed_tensor)
        else:
            result = self._generate_tensors(source, rows_mask, seed_tensor, config, max_length, logits_processor,
                                            streamer)
        return self._finish_outputs(result, config, 0, tf.executing_eagerly())

    def served_generation_config(self, generation_config: GenerationConfig | None = None,
                                 **kwargs: Any) -> GenerationConfig:
        """The settings a served generate signature fixes at export time: `generation_config` (default: the
        model's) with `kwargs` set, one sequence per prompt, and a padding token (the first eos, else 0).

        Example:
            >>> model.served_generation_config(max_new_tokens=32).max_new_tokens
            32
        """
        config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        unused = config.update(**kwargs)
        if unused:
            raise TypeError(f"Unknown generation settings {sorted(unused)}.")
        if config.num_return_sequences != 1:
            raise ValueError("A served generate signature returns one sequence per prompt: num_return_sequences "
                             f"must be 1 (received {config.num_return_sequences}).")
        if config.pad_token_id is None:
            config.pad_token_id = config.eos_token_ids[0] if config.eos_token_ids else 0
        return config

    def generation_serving_functions(self, generation_config: GenerationConfig | None = None,
                                     jit_compile: bool = True, batch_sizes: Sequence[int] = (1,),
                                     **kwargs: Any) -> dict[str, tuple]:
        """Serving signatures for `serving.export_saved_model(..., generate=True)`:
        `{name: (tf.function, [input specs])}`.

        `generate` takes `input_ids` and `attention_mask` (int32, `[batch, length]`, left-padded);
        `generate_max_new_tokens` also takes `max_new_tokens` (int32 `[batch]`, each row's limit, capped by the
        export's). Both return `sequences` (`[batch, length + new]`: the prompt as given, then the new tokens,
        `pad_token_id` after a row ends; an encoder-decoder's start with the decoder start token instead of the
        prompt) and `sequence_lengths` (`[batch]`: positions up to a row's last token).
        The strategy and its parameters are the generation config's (keyword arguments override it), fixed at
        export time; sampling draws a fresh seed per request. Prompts are padded to `pad_to_multiple_of`.

        With `jit_compile=True` (the default) each request runs the program of `generate(jit_compile=True)`: one
        XLA program per batch size and padded prompt length (compiled at its first request; prompts are padded to
        multiples of `pad_to_multiple_of`, 32 unless set, so that few lengths compile), kernels transposed for a
        single row. TF Serving runs it with `--xla_cpu_compilation_enabled=true`; `jit_compile=False` gives plain
        TensorFlow graphs, for servers without XLA.

        `batch_sizes` are the row counts that get a program traced for that static count, as the library's own
        `generate(jit_compile=True)` traces them (other counts take a program of any row count, which XLA runs
        about a quarter slower at 8 rows): give the `allowed_batch_sizes` of TF Serving's batching configuration.
        Each gets a warm-up record.

        Example:
            >>> functions = model.generation_serving_functions(max_new_tokens=32, num_beams=4, batch_sizes=[1, 8])
        """
        config = self.served_generation_config(generation_config, **kwargs)
        if jit_compile and not config.pad_to_multiple_of:
            config.pad_to_multiple_of = _SERVED_PROMPT_MULTIPLE
        cap = config.max_new_tokens if config.max_new_tokens is not None else config.max_length
        base = {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in ("input_ids", "attention_mask")}
        with_limit = {**base, "max_new_tokens": tf.TensorSpec([None], tf.int32, name="max_new_tokens")}
        encoder_decoder = self.config.is_encoder_decoder

        def decode(input_ids, attention_mask, seed, new_tokens):
            # Buffers of the prompt plus `cap` (sizes from shapes only: static under XLA); the loop stops after
            # `new_tokens`.
            prompt_end = 1 if encoder_decoder else tf.shape(input_ids)[1]
            return self._generate_tensors(input_ids, attention_mask, seed, config, prompt_end + cap,
                                          stop_length=prompt_end + new_tokens)

        run = self._served_program(decode, jit_compile, batch_sizes)

        def serve(input_ids, attention_mask, limits):
            new_tokens = tf.minimum(tf.reduce_max(limits), cap)
            multiple = config.pad_to_multiple_of or 1
            added = tf.math.floormod(-tf.shape(input_ids)[1], multiple)
            # An encoder-decoder's sources are right-padded (their positions stay), and its sequences are the
            # decoder's: its start token, then the new tokens.
            sides = [0, added] if encoder_decoder else [added, 0]
            input_ids = tf.pad(input_ids, [[0, 0], sides], constant_values=config.pad_token_id)
            attention_mask = tf.pad(attention_mask, [[0, 0], sides])
            seed = tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64)
            prompt_end = 1 if encoder_decoder else tf.shape(input_ids)[1]
            result = run(input_ids, attention_mask, seed, new_tokens)
            if encoder_decoder:
                added = 0
            ends = tf.minimum(result["sequence_lengths"], prompt_end + tf.minimum(limits, cap))
            sequences = result["sequences"][:, : tf.reduce_max(ends)]
            beyond = tf.range(tf.shape(sequences)[1])[None, :] >= ends[:, None]
            sequences = tf.where(beyond, config.pad_token_id, sequences)
            return {"sequences": sequences[:, added:], "sequence_lengths": ends - added}

        @tf.function(input_signature=[base])
        def generate(inputs):
            rows = tf.shape(inputs["input_ids"])[0]
            return serve(inputs["input_ids"], inputs["attention_mask"], tf.fill([rows], cap))

        @tf.function(input_signature=[with_limit])
        def generate_max_new_tokens(inputs):
            return serve(inputs["input_ids"], inputs["attention_mask"], inputs["max_new_tokens"])

        for function in (generate, generate_max_new_tokens):
            function.nondeterministic = bool(config.do_sample)  # the exporter then checks loading, not tokens
        # TF Serving's warm-up: each batch size at one padded length, so that the first such request finds its
        # program.
        row = np.asarray(self.dummy_inputs["input_ids"], np.int32)[0]
        generate.warmup_inputs = [{"input_ids": ids, "attention_mask": np.ones_like(ids)} for ids in (
            np.resize(row, [size, config.pad_to_multiple_of or 8]) for size in batch_sizes)]
        return {"generate": (generate, [base]), "generate_max_new_tokens": (generate_max_new_tokens, [with_limit])}

    @staticmethod
    def _served_program(decode, jit_compile: bool, batch_sizes: Sequence[int] = (1,)):
        """`run(source, mask, *rest)` calling `decode(source, mask, *rest)` for a served signature: with
        `jit_compile`, as XLA programs (one per input shape): each of `batch_sizes` traced as one for that static
        row count (a single row on transposed kernels, as `generate(jit_compile=True)` runs it), other row counts
        as one traced for any; else as plain graph ops."""
        batch_sizes = _checked_batch_sizes(batch_sizes)
        if not jit_compile:
            return decode
        many = tf.function(decode, jit_compile=True, autograph=False)
        programs = {}  # static-row programs by input specs, shared by the signatures that trace `run`

        def run(source, mask, *rest):
            # A static-row program is traced for its row count by its input signature. Calling it sets that shape
            # on the symbolic tensors it is given: each gets copies, so that the other branches keep [None, ...].
            args = [tf.convert_to_tensor(t) for t in (source, mask, *rest)]
            branches = []
            for size in batch_sizes:
                specs = tuple(tf.TensorSpec([size] + t.shape.as_list()[1:], t.dtype) for t in args[:2]) + tuple(
                    tf.TensorSpec(t.shape, t.dtype) for t in args[2:])
                if specs not in programs:
                    programs[specs] = tf.function(decode, input_signature=specs, jit_compile=True, autograph=False)
                branches.append(lambda program=programs[specs]: program(*[tf.identity(t) for t in args]))
            branches.append(lambda: many(*args))
            sizes = tf.constant(batch_sizes, tf.int32, shape=[len(batch_sizes)])
            matches = tf.concat([tf.equal(tf.shape(args[0])[0], sizes), [True]], 0)  # no match: the last branch
            return tf.switch_case(tf.argmax(matches, output_type=tf.int32), branches)

        return run

    # ---- internals ----------------------------------------------------------------------------------------------
    @staticmethod
    def _default_attention_mask(input_ids: tf.Tensor, config: GenerationConfig) -> tf.Tensor:
        pad = config.pad_token_id
        if pad is not None and pad not in config.eos_token_ids:
            return tf.cast(tf.not_equal(input_ids, pad), tf.int32)
        return tf.ones_like(input_ids)

    @staticmethod
    def _pad_to_bucket(input_ids, attention_mask, config: GenerationConfig, right: bool = False):
        """Left-pad prompts (with `right`, an encoder-decoder's sources: right-pad them, so that their positions
        stay) to a multiple of `pad_to_multiple_of`, masked out: the tokens do not change."""
        multiple = config.pad_to_multiple_of
        if not multiple or input_ids.shape[1] is None:
            return input_ids, attention_mask, 0
        added = -input_ids.shape[1] % multiple
        if added:
            pad = config.pad_token_id if config.pad_token_id is not None else 0
            sides = [0, added] if right else [added, 0]
            input_ids = tf.pad(input_ids, [[0, 0], sides], constant_values=pad)
            attention_mask = tf.pad(attention_mask, [[0, 0], sides])
        return input_ids, attention_mask, added

    def _compiled_generate(self, config: GenerationConfig, max_length: int, logits_processor):
        """A `tf.function(jit_compile=True)` per generation setting, cached (it traces once per prompt shape)."""
        functions = self.runtime_state.compiled_generate
        key = (config.to_json_string(use_diff=False), max_length, id(logits_processor))
        if key not in functions:
            def run(input_ids, attention_mask, seed):
                return self._generate_tensors(input_ids, attention_mask, seed, config, max_length, logits_processor)

            functions[key] = tf.function(run, jit_compile=True, autograph=False)
        return functions[key]

    def _finish_outputs(self, result: dict, config: GenerationConfig, added: int, eager: bool):
        sequences, lengths = result["sequences"], result["sequence_lengths"]
        if eager:
            sequences = sequences[:, added:int(tf.reduce_max(lengths))]
        elif added:
            sequences = sequences[:, added:]
        lengths = lengths - added
        if not config.return_dict_in_generate:
            return sequences
        scores = None
        if config.output_scores:
            scores = tuple(tf.unstack(result["scores"])) if eager else result["scores"]
        return GenerateOutput(sequences=sequences, scores=scores, sequence_lengths=lengths,
                              sequences_scores=result.get("sequences_scores") if config.output_scores else None)

    def _generate_tensors(self, input_ids, attention_mask, seed, config: GenerationConfig, max_length,
                          logits_processor=None, streamer=None, stop_length=None) -> dict[str, tf.Tensor]:
        """The whole generation as tensor ops (the body of the compiled function; traced for XLA with one row, its
        decoding steps multiply by transposed kernels, see `_DecodeState`). `max_length` sizes the buffers and the
        cache (static under XLA); `stop_length` (default: `max_length`; a tensor computed from the inputs in a
        served signature) is where generation ends."""
        encoder_outputs = encoder_mask = None
        if self.config.is_encoder_decoder:
            encoder_outputs = self.encode_for_generation(input_ids, attention_mask)
            encoder_mask = attention_mask
            start = config.decoder_start_token_id
            if start is None:
                start = config.bos_token_id
            if start is None:
                raise ValueError("An encoder-decoder model needs decoder_start_token_id (or bos_token_id) to generate.")
            input_ids = tf.fill([tf.shape(input_ids)[0], 1], tf.constant(start, tf.int32))
            attention_mask = tf.ones_like(input_ids)
        expand = config.num_beams if config.num_beams > 1 else (
            config.num_return_sequences if config.do_sample else 1)
        if expand > 1:
            input_ids, attention_mask = (tf.repeat(t, expand, axis=0) for t in (input_ids, attention_mask))
            if encoder_outputs is not None:
                encoder_outputs = self.expand_encoder_outputs(encoder_outputs, expand)
                encoder_mask = tf.repeat(encoder_mask, expand, axis=0)
        prompt_length = input_ids.shape[1] if input_ids.shape[1] is not None else tf.shape(input_ids)[1]
        padding_lengths = tf.argmax(tf.cast(attention_mask != 0, tf.int32), axis=1, output_type=tf.int32)
        stop_length = max_length if stop_length is None else stop_length
        processors = build_logits_processors(config, prompt_length, padding_lengths, stop_length)
        if logits_processor:
            processors.extend(logits_processor)
        state = _DecodeState(self, input_ids, attention_mask, max_length, config, encoder_outputs, encoder_mask,
                             stop_length)
        if config.num_beams > 1:
            return _beam_search(state, processors, config, seed)
        return _greedy_or_sample(state, processors, config, seed, streamer)


class _DecodeState:
    """The buffers shared by every strategy: sequences and attention mask of `max_length` slots, and the cache;
    decoding stops at `stop_length` (at most `max_length`)."""

    def __init__(self, model, input_ids, attention_mask, max_length, config, encoder_outputs, encoder_mask,
                 stop_length=None):
        self.model = model
        # Decoding one row, every step is matrix-vector products: XLA runs them faster on transposed kernels (made
        # here, before the loop, once per call). From two rows on its matrix products are faster as they are
        # (GPT-2 124M, 2 rows: 53.0 against 43.6 new tokens/s). Every path XLA compiles gets them:
        # `generate(jit_compile=True)`, `generate` in the user's `tf.function(jit_compile=True)`, a served program
        # traced for one row; eager and plain-graph decoding keep the variables.
        rows = input_ids.shape[0]
        layers = transposable_layers(model) if in_xla_compilation() and rows is not None and (
            rows <= _TRANSPOSED_KERNEL_ROWS) else []
        size = sum(int(np.prod(layer.projection_kernel.shape)) * tf.as_dtype(layer.compute_dtype).size
                   for layer in layers)
        self.kernels = transpose_kernels_of(layers) if size <= _TRANSPOSED_KERNEL_BYTES else []
        self.forward = model.generation_forward
        if tf.executing_eagerly():  # each model pass as one graph; the loop stays in Python (streamers work)
            state = model.runtime_state
            if state.generation_forward is None:
                state.generation_forward = tf.function(model.generation_forward, reduce_retracing=True,
                                                       autograph=False)
            self.forward = state.generation_forward
        self.encoder_outputs, self.encoder_mask = encoder_outputs, encoder_mask
        self.rows = input_ids.shape[0] if input_ids.shape[0] is not None else tf.shape(input_ids)[0]
        self.prompt_length = input_ids.shape[1] if input_ids.shape[1] is not None else tf.shape(input_ids)[1]
        self.max_length = max_length
        self.stop_length = max_length if stop_length is None else stop_length
        extra = max_length - self.prompt_length
        pad = config.pad_token_id if config.pad_token_id is not None else 0
        self.sequences = tf.pad(input_ids, [[0, 0], [0, extra]], constant_values=pad)
        self.mask = tf.pad(attention_mask, [[0, 0], [0, extra]])
        self.pad = pad
        self.eos = config.eos_token_ids

    def prefill(self):
        """Run the prompt through the model: `(last logits, cache)`. Padding positions get position 1 (masked)."""
        cache = self.model.init_generation_cache(self.rows, self.max_length)
        prompt_mask = self.mask[:, : self.prompt_length]
        positions = tf.cumsum(prompt_mask, axis=1) - 1
        positions = tf.where(prompt_mask == 0, 1, positions)
        return self.forward(self.sequences[:, : self.prompt_length], self.mask, positions, cache,
                                             tf.constant(0, tf.int32), self.encoder_outputs, self.encoder_mask)

    def step(self, tokens, mask, cache, cur_len):
        """Run `tokens` (`[rows]`, at slot `cur_len`) through the model: `(logits, cache)`."""
        position = tf.reduce_sum(mask * tf.cast(tf.range(tf.shape(mask)[1]) < cur_len, mask.dtype), axis=1)
        with use_transposed_kernels(self.kernels):
            return self.forward(tokens[:, None], mask, position[:, None], cache, cur_len, self.encoder_outputs,
                                self.encoder_mask)


def _greedy_or_sample(state: _DecodeState, processors, config: GenerationConfig, seed, streamer) -> dict:
    logits, cache = state.prefill()
    if streamer is not None:
        streamer.put(state.sequences[:, : state.prompt_length].numpy())
    scores = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=logits.shape)
    unfinished = tf.ones([state.rows], tf.bool)
    lengths = tf.fill([state.rows], tf.cast(state.stop_length, tf.int32))

    def cond(cur_len, sequences, mask, cache, unfinished, lengths, logits, scores):
        return (cur_len < state.stop_length) & tf.reduce_any(unfinished)

    def body(cur_len, sequences, mask, cache, unfinished, lengths, logits, scores):
        processed = processors(sequences, logits, cur_len)
        if config.do_sample:
            processed_for_draw = processed + _gumbel(tf.shape(processed), seed, cur_len)
        else:
            processed_for_draw = processed
        tokens = tf.argmax(processed_for_draw, axis=-1, output_type=tf.int32)
        tokens = tf.where(unfinished, tokens, state.pad)
        sequences = _write_column(sequences, tokens, cur_len)
        mask = _write_column(mask, tf.ones_like(tokens), cur_len)
        if config.output_scores:
            scores = scores.write(cur_len - state.prompt_length, processed)
        if streamer is not None:
            streamer.put(tokens.numpy())
        just_finished = unfinished & _isin(tokens, state.eos)
        lengths = tf.where(just_finished, cur_len + 1, lengths)
        unfinished = unfinished & ~just_finished
        more = (cur_len + 1 < state.stop_length) & tf.reduce_any(unfinished)
        logits, cache = tf.cond(more, lambda: state.step(tokens, mask, cache, cur_len), lambda: (logits, cache))
        return cur_len + 1, sequences, mask, cache, unfinished, lengths, logits, scores

    loop = tf.while_loop(cond, body, (tf.convert_to_tensor(state.prompt_length), state.sequences, state.mask, cache,
                                      unfinished, lengths, logits, scores))
    cur_len, sequences, lengths, scores = loop[0], loop[1], loop[5], loop[7]
    if streamer is not None:
        streamer.end()
    lengths = tf.minimum(lengths, cur_len)
    result = {"sequences": sequences, "sequence_lengths": lengths}
    if config.output_scores:
        result["scores"] = scores.stack()
    return result


def _beam_search(state: _DecodeState, processors, config: GenerationConfig, seed) -> dict:
    """The reference's vectorized beam search (transformers' `_beam_search`), with static shapes."""
    num_beams = config.num_beams
    batch = state.rows // num_beams
    length = tf.shape(state.sequences)[1]
    beams_to_keep = max(2, 1 + len(state.eos)) * num_beams
    top_num_beam_mask = tf.range(beams_to_keep) < num_beams
    prompt_length = state.prompt_length
    length_penalty, early_stopping = float(config.length_penalty), config.early_stopping

    def unflat(t):
        return tf.reshape(t, tf.concat([[batch, num_beams], tf.shape(t)[1:]], axis=0))

    def flat(t):
        return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], axis=0))

    logits, cache = state.prefill()
    running_sequences = unflat(state.sequences)
    sequences = running_sequences
    running_scores = tf.tile(tf.constant([[0.0] + [_LARGE_NEGATIVE] * (num_beams - 1)]), [batch, 1])
    beam_scores = tf.fill([batch, num_beams], _LARGE_NEGATIVE)
    beam_lengths = tf.zeros([batch, num_beams], tf.int32)
    is_sent_finished = tf.zeros([batch, num_beams], tf.bool)
    unsatisfied = tf.ones([batch, 1], tf.bool)
    scores = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=logits.shape)
    done = tf.constant(False)

    def cond(cur_len, done, *_):
        return ~done

    def body(cur_len, done, running_sequences, running_scores, sequences, beam_scores, beam_lengths,
             is_sent_finished, unsatisfied, mask, cache, logits, scores):
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        log_probs = processors(flat(running_sequences), log_probs, cur_len)
        if config.output_scores:
            scores = scores.write(cur_len - prompt_length, log_probs)
        vocab = tf.shape(log_probs)[-1]
        accumulated = tf.reshape(unflat(log_probs) + running_scores[:, :, None], [batch, -1])
        if config.do_sample:  # sampling without replacement: top-k of Gumbel-perturbed scores, then sorted
            _, topk_indices = tf.math.top_k(accumulated + _gumbel(tf.shape(accumulated), seed, cur_len), beams_to_keep)
            topk_log_probs = tf.gather(accumulated, topk_indices, batch_dims=1)
            order = tf.argsort(topk_log_probs, axis=-1, direction="DESCENDING", stable=True)
            topk_log_probs = tf.gather(topk_log_probs, order, batch_dims=1)
            topk_indices = tf.gather(topk_indices, order, batch_dims=1)
        else:
            topk_log_probs, topk_indices = tf.math.top_k(accumulated, beams_to_keep)
        topk_beams, topk_ids = topk_indices // vocab, topk_indices % vocab
        topk_sequences = _write_column(tf.gather(running_sequences, topk_beams, batch_dims=1), topk_ids, cur_len)
        hits = _isin(topk_ids, state.eos) | (cur_len + 1 >= state.stop_length)

        # running beams for the next step: the best ones that did not just finish
        running_log_probs = topk_log_probs + tf.cast(hits, tf.float32) * _LARGE_NEGATIVE
        next_indices = tf.math.top_k(running_log_probs, num_beams).indices
        running_sequences = tf.gather(topk_sequences, next_indices, batch_dims=1)
        running_scores = tf.gather(running_log_probs, next_indices, batch_dims=1)
        source_beams = tf.gather(topk_beams, next_indices, batch_dims=1)

        # finished hypotheses: merge the ones that just finished into the best `num_beams`
        just_finished = hits & top_num_beam_mask[None, :]
        generated = tf.cast(cur_len + 1 - prompt_length, tf.float32)
        candidate = topk_log_probs / generated ** length_penalty
        if early_stopping is True:
            full = tf.reduce_all(is_sent_finished, axis=-1, keepdims=True)
            candidate += tf.cast(full, tf.float32) * _LARGE_NEGATIVE
        candidate += tf.cast(~unsatisfied, tf.float32) * _LARGE_NEGATIVE
        candidate += tf.cast(~just_finished, tf.float32) * _LARGE_NEGATIVE
        merged_scores = tf.concat([beam_scores, candidate], axis=1)
        keep = tf.math.top_k(merged_scores, num_beams).indices
        sequences = tf.gather(tf.concat([sequences, topk_sequences], axis=1), keep, batch_dims=1)
        beam_scores = tf.gather(merged_scores, keep, batch_dims=1)
        candidate_lengths = tf.fill(tf.shape(topk_ids), cur_len + 1)
        beam_lengths = tf.gather(tf.concat([beam_lengths, candidate_lengths], axis=1), keep, batch_dims=1)
        is_sent_finished = tf.gather(tf.concat([is_sent_finished, just_finished], axis=1), keep, batch_dims=1)

        cur_len = cur_len + 1
        if early_stopping == "never" and length_penalty > 0.0:
            best_length = tf.cast(state.stop_length - prompt_length, tf.float32)
        else:
            best_length = tf.cast(cur_len - prompt_length, tf.float32)
        best_running = running_scores[:, :1] / best_length ** length_penalty
        worst_finished = tf.where(is_sent_finished, tf.reduce_min(beam_scores, axis=1, keepdims=True), _LARGE_NEGATIVE)
        unsatisfied = unsatisfied & tf.reduce_any(best_running > worst_finished, axis=-1, keepdims=True)
        open_beams = ~(tf.reduce_all(is_sent_finished) & (early_stopping is True))
        done = ~(tf.reduce_any(unsatisfied) & open_beams & ~tf.reduce_all(hits))

        rows = tf.reshape(source_beams + tf.range(batch)[:, None] * num_beams, [-1])
        tokens = tf.gather(flat(running_sequences), cur_len - 1, axis=1)
        mask = _write_column(mask, tf.ones_like(tokens), cur_len - 1)

        def advance():
            return state.step(tokens, mask, state.model.reorder_generation_cache(cache, rows), cur_len - 1)

        logits, cache = tf.cond(done, lambda: (logits, cache), advance)
        return (cur_len, done, running_sequences, running_scores, sequences, beam_scores, beam_lengths,
                is_sent_finished, unsatisfied, mask, cache, logits, scores)

    loop = tf.while_loop(cond, body, (tf.convert_to_tensor(prompt_length), done, running_sequences, running_scores,
                                      sequences, beam_scores, beam_lengths, is_sent_finished, unsatisfied,
                                      state.mask, cache, logits, scores))
    sequences, beam_scores, beam_lengths, scores = loop[4], loop[5], loop[6], loop[12]
    keep = config.num_return_sequences
    result = {
        "sequences": tf.reshape(sequences[:, :keep], [-1, length]),
        "sequences_scores": tf.reshape(beam_scores[:, :keep], [-1]),
        "sequence_lengths": tf.reshape(beam_lengths[:, :keep], [-1]),
    }
    if config.output_scores:
        result["scores"] = scores.stack()
    return result
