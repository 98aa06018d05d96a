"""Text generation: `GenerationConfig`, logits processors, `GenerationMixin.generate` and streamers.

Example:
    >>> from tfmodels.generation import GenerationConfig
    >>> model.generate(ids, generation_config=GenerationConfig(max_new_tokens=16, num_beams=4))
"""

from tfmodels.generation.configuration import GENERATION_CONFIG_NAME, GenerationConfig
from tfmodels.generation.logits_process import (
    ForcedBOSTokenLogitsProcessor,
    ForcedEOSTokenLogitsProcessor,
    LogitsProcessor,
    LogitsProcessorList,
    MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    NoBadWordsLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    SuppressTokensAtBeginLogitsProcessor,
    SuppressTokensLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    build_logits_processors,
)
from tfmodels.generation.streamers import BaseStreamer, TextStreamer
from tfmodels.generation.utils import GenerateOutput, GenerationMixin

__all__ = [
    "GENERATION_CONFIG_NAME", "BaseStreamer", "ForcedBOSTokenLogitsProcessor", "ForcedEOSTokenLogitsProcessor",
    "GenerateOutput", "GenerationConfig", "GenerationMixin", "LogitsProcessor", "LogitsProcessorList",
    "MinLengthLogitsProcessor", "MinNewTokensLengthLogitsProcessor", "NoBadWordsLogitsProcessor",
    "NoRepeatNGramLogitsProcessor", "RepetitionPenaltyLogitsProcessor", "SuppressTokensAtBeginLogitsProcessor",
    "SuppressTokensLogitsProcessor", "TemperatureLogitsWarper", "TextStreamer", "TopKLogitsWarper",
    "TopPLogitsWarper", "build_logits_processors",
]
