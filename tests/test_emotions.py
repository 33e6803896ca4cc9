import json

import pytest

from damer_core.emotions import load_emotion_terms, nearest_term


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
