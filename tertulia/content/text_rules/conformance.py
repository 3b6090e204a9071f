"""How each section of the twitter-text conformance files maps onto `x`: what our code answers
for a case, to compare with the case's `expected`. Shared by the tests and the benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from . import x

FILES = ("validate.yml", "extract.yml", "tlds.yml")

COUNTER_CONFIGS = {
    "WeightedTweetsCounterTest": x.CONFIG_V2,
    "WeightedTweetsWithDiscountedEmojiCounterTest": x.CONFIG_V3,
    "UnicodeDirectionalMarkerCounterTest": x.CONFIG_V3,
}


def _counter(config):
    return lambda text: x.parse_tweet(text, config).as_twitter_text()


def _values(find):
    return lambda text: [e.value for e in find(text)]


def _indexed(find, key, with_slug=False):
    def run(text):
        out = []
        for e in find(text):
            item = {key: e.value}
            if with_slug:
                item["list_slug"] = e.list_slug
            item["indices"] = [e.start, e.end]
            out.append(item)
        return out

    return run


SECTIONS: dict[str, dict[str, Callable[[str], Any]]] = {
    "validate.yml": {
        # `tweets` predates weighted counting: 140 characters, every code point weighs 1.
        "tweets": lambda t: x.parse_tweet(t, x.CONFIG_V1).valid,
        "usernames": x.is_valid_username,
        "lists": x.is_valid_list,
        "hashtags": x.is_valid_hashtag,
        "urls": lambda t: x.is_valid_url(t, unicode_domains=True, require_protocol=True),
        "urls_without_protocol": lambda t: x.is_valid_url(t, unicode_domains=True, require_protocol=False),
        **{name: _counter(config) for name, config in COUNTER_CONFIGS.items()},
    },
    "extract.yml": {
        "mentions": _values(x.extract_mentions),
        "mentions_with_indices": _indexed(x.extract_mentions, "screen_name"),
        "mentions_or_lists_with_indices": _indexed(x.extract_mentions_or_lists, "screen_name", with_slug=True),
        "replies": x.extract_reply_screen_name,
        "urls": _values(x.extract_urls),
        "urls_with_indices": _indexed(x.extract_urls, "url"),
        "urls_with_directional_markers": _indexed(x.extract_urls, "url"),
        "tco_urls_with_params": _values(x.extract_urls),
        "hashtags": _values(x.extract_hashtags),
        "hashtags_from_astral": _values(x.extract_hashtags),
        "hashtags_with_indices": _indexed(x.extract_hashtags, "hashtag"),
        "cashtags": _values(x.extract_cashtags),
        "cashtags_with_indices": _indexed(x.extract_cashtags, "cashtag"),
    },
    "tlds.yml": {
        "country": _values(x.extract_urls),
        "generic": _values(x.extract_urls),
    },
}

# extract.yml sections whose expectations carry indices, and the extractor that finds them.
INDEXED = {
    "mentions_with_indices": x.extract_mentions,
    "mentions_or_lists_with_indices": x.extract_mentions_or_lists,
    "urls_with_indices": x.extract_urls,
    "urls_with_directional_markers": x.extract_urls,
    "hashtags_with_indices": x.extract_hashtags,
    "cashtags_with_indices": x.extract_cashtags,
}


def load(path: Path) -> list[tuple[str, dict]]:
    import yaml  # a development dependency: only tests and benchmarks read the suite

    tests = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
    return [(section, case) for section, cases in tests.items() for case in cases]


def answer(filename: str, section: str, text: str) -> Any:
    try:
        run = SECTIONS[filename][section]
    except KeyError:
        raise KeyError(f"{filename} has a section we do not run: {section!r}") from None
    return run(text)


def run_file(path: Path) -> tuple[int, int, list[str]]:
    """(passed, total, descriptions of the failures) for one conformance file."""
    passed, failures = 0, []
    cases = load(path)
    for section, case in cases:
        try:
            ok = answer(path.name, section, case["text"]) == case["expected"]
        except Exception as exc:  # a crash is a failure to report, not a reason to stop
            ok = False
            case = dict(case, description=f"{case['description']} (raised {exc!r})")
        if ok:
            passed += 1
        else:
            failures.append(f"{section}: {case['description']}")
    return passed, len(cases), failures
