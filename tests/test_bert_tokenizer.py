"""The offline BERT tokenizer gives transformers' `BertTokenizer` ids and decoded text."""

import pytest

from vbench_lite.dimensions.backbones import bert_tokenizer

TEXTS = [
    "a picture of a man riding a bicycle.",
    "Héllo, World! It's a dog's life; don't stop",
    "二つの cats 3.5 x-ray",
    "unaffable supercalifragilisticexpialidocious",
    "a cat 's tail , running .",
    "I'm sure we've seen they're here ?!",
]


@pytest.fixture(scope="module")
def reference():
    transformers = pytest.importorskip("transformers")
    return transformers.BertTokenizer(str(bert_tokenizer.vocab_path()), do_lower_case=True)


def test_vocabulary_is_the_uncased_bert_one():
    assert bert_tokenizer.bert_tokenizer().get_vocab_size() == bert_tokenizer.VOCAB_SIZE
    specials = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert [bert_tokenizer.token_id(t) for t in specials] == [0, 100, 101, 102, 103]
    assert bert_tokenizer.encode("a picture of") == [1037, 3861, 1997]


@pytest.mark.parametrize("text", TEXTS)
def test_ids_and_decoded_text_match_transformers(text, reference):
    ids = bert_tokenizer.encode(text)
    assert ids == reference.encode(text, add_special_tokens=False)
    for sequence in ([101, *ids, 102], [*ids, 0, 0]):
        for skip in (True, False):
            # VBench's transformers (4.33) cleans up spaces on decode by default.
            expected = reference.decode(sequence, skip_special_tokens=skip, clean_up_tokenization_spaces=True)
            assert bert_tokenizer.decode(sequence, skip_special_tokens=skip) == expected
