import json

import numpy as np
import pytest

from damer_core.contract.emotions import load_emotion_terms, nearest_term


def test_twelve_words_at_30_degree_steps():
    terms = load_emotion_terms()
    assert [t.word for t in terms][:3] == ["joyful", "excited", "energetic"]
    assert len(terms) == 12 and len({t.word for t in terms}) == 12
    assert [t.angle for t in terms] == list(range(15, 360, 30))
    excited = terms[1]
    assert excited.valence == pytest.approx(0.7071, abs=1e-4) and excited.arousal == pytest.approx(0.7071, abs=1e-4)


@pytest.mark.parametrize("v,a,word", [(1, 0.1, "joyful"), (-0.5, -0.6, "gloomy"), (0.2, -0.9, "calm"),
                                     (-0.1, 0.9, "tense"), (0.9, -0.05, "peaceful"), (-1, 0, "anxious")])
def test_nearest_word(v, a, word):
    assert nearest_term(v, a, load_emotion_terms()).word == word


def test_bad_terms_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "terms.json"
    bad.write_text(json.dumps({"terms": [{"word": "x"}]}))
    with pytest.raises(ValueError, match="terms.json: not a valid emotion-terms file"):
        load_emotion_terms(bad)


def test_a_coin_toss_never_gets_a_word_that_claims_its_side():
    """Over the whole circle: where a coordinate is within UNSURE of its axis the reading names
    only what is known; elsewhere it is the nearest of the 12 words."""
    from damer_core.contract.emotions import UNSURE, read_point

    terms = load_emotion_terms()
    words = {t.word for t in terms}
    for v in np.linspace(-1, 1, 41):
        for a in np.linspace(-1, 1, 41):
            if v * v + a * a > 1:
                continue
            r = read_point(v, a, terms)
            if abs(v) >= UNSURE and abs(a) >= UNSURE:
                assert r.certain and r.word == nearest_term(v, a, terms).word
                continue
            assert not r.certain and r.word not in words
            if abs(v) < UNSURE <= abs(a):
                assert r.word == ("high energy" if a > 0 else "low energy") and r.unsure == "valence"
            elif abs(a) < UNSURE <= abs(v):
                assert r.word == ("positive" if v > 0 else "negative") and r.unsure == "arousal"
            else:
                assert r.word == "uncertain"
    # the complaint that started it: a happy song at V +0.1, A +0.6 was called "tense"
    assert read_point(0.1, 0.6, terms).word == "high energy"
