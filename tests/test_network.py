"""The torch network on small hand-made batches, checked against torch's own
bidirectional LSTM over packed sequences and against sums written out in numpy."""
import numpy
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spacy_lstm_tagger.pipeline.network import (
    PAD,
    UNKNOWN,
    BiLSTM,
    BiLSTMTagger,
    NetworkShape,
    largest,
    reverse_rows,
)

torch.set_num_threads(1)

SMALL = dict(n_words=7, n_chars=9, n_tags=3, n_pos=2, word_width=4, char_width=3, char_features=2, hidden_width=5, depth=1)


def seeded_network(seed=0, **sizes):
    """A network whose every weight (the output layers' too) is drawn from a seeded generator."""
    network = BiLSTMTagger(NetworkShape(**{**SMALL, **sizes}))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in network.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
        for embed in (network.word_embed, network.char_embed):
            embed.weight[PAD] = 0.0
    return network


def packed_bilstm(bilstm: BiLSTM, rows, lengths):
    """torch's nn.LSTM(bidirectional=True) over packed rows, with `bilstm`'s weights."""
    first = bilstm.forward_layers[0]
    reference = nn.LSTM(
        first.input_size, first.hidden_size, num_layers=len(bilstm.forward_layers),
        bidirectional=True, batch_first=True,
    )
    with torch.no_grad():
        for i, (ahead, behind) in enumerate(zip(bilstm.forward_layers, bilstm.backward_layers)):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(reference, f"{name}_l{i}").copy_(getattr(ahead, f"{name}_l0"))
                getattr(reference, f"{name}_l{i}_reverse").copy_(getattr(behind, f"{name}_l0"))
        packed = pack_padded_sequence(rows, lengths, batch_first=True, enforce_sorted=False)
        output, _ = pad_packed_sequence(reference(packed)[0], batch_first=True)
    return output


def tokens_of(padded, lengths):
    """The rows' positions before their lengths, row by row."""
    return torch.cat([padded[i, :n] for i, n in enumerate(lengths.tolist())])


def numpy_char_features(network, words):
    """Each word's character features, the convolution written out as sums."""
    chars = network.char_embed.weight.detach().double().numpy()
    edges = None if network.edge_chars is None else network.edge_chars.detach().double().numpy()
    rows = []
    for word in words:
        if not word:
            rows.append(numpy.zeros(len(network.char_cnns) * network.shape.char_features))
            continue
        x = chars[word]
        if edges is not None:
            x = numpy.concatenate([edges[:1], x, edges[1:]])
        row = []
        for cnn in network.char_cnns:
            w = cnn.weight.detach().double().numpy()  # (features, char_width, window)
            b = cnn.bias.detach().double().numpy()
            window = w.shape[2]
            padded = numpy.concatenate([numpy.zeros((window // 2, x.shape[1])), x, numpy.zeros((window // 2, x.shape[1]))])
            out = [
                b + numpy.einsum("fdk,kd->f", w, padded[p : p + window]) for p in range(len(x))
            ]
            row.append(numpy.maximum(numpy.max(out, axis=0), 0.0))
        rows.append(numpy.concatenate(row))
    return numpy.array(rows)


def type_chars_of(words):
    width = max(1, max(len(w) for w in words))
    return torch.tensor([w + [PAD] * (width - len(w)) for w in words], dtype=torch.int64)


# Word types (character rows), sorted by length as featurize gives them.
WORDS = [[], [2], [3, 4], [5, 2], [1, 6, 7, 8]]
# Three sentences (rows sorted by length): word table row and word type of each token.
WORD_IDS = torch.tensor([[3, PAD, PAD, PAD], [2, 4, 6, PAD], [5, 1, 2, 3]])
TYPE_IDS = torch.tensor([[1, 0, 0, 0], [2, 3, 4, 0], [4, 1, 2, 3]])
LENGTHS = torch.tensor([1, 3, 4])


def reference_encode(network, word_ids=WORD_IDS, type_ids=TYPE_IDS, lengths=LENGTHS, words=WORDS):
    chars = torch.from_numpy(numpy_char_features(network, words)).float()[type_ids]
    rows = torch.cat([network.word_embed.weight.detach()[word_ids], chars], dim=2)
    return tokens_of(packed_bilstm(network.bilstm, rows, lengths), lengths)


def encode(network, group_size=2, **options):
    with torch.no_grad():
        return network.encode(WORD_IDS, TYPE_IDS, type_chars_of(WORDS), LENGTHS, group_size, **options)


def test_char_windows_are_3_5_7():
    assert NetworkShape(**SMALL, char_kernels=3).char_windows() == [3, 5, 7]
    assert NetworkShape(**SMALL).char_windows() == [3]


def test_good_sizes_have_no_problems():
    assert NetworkShape(**SMALL, char_kernels=10, char_edges=1, extra_heads=(4, 1)).problems() == []
    assert NetworkShape(**{**SMALL, "n_pos": 0, "n_words": 2, "n_chars": 2, "n_tags": 1}).problems() == []


@pytest.mark.parametrize(
    "sizes, problems",
    [
        ({"n_words": 1}, ["n_words=1 is not >= 2"]),
        ({"n_chars": 1}, ["n_chars=1 is not >= 2"]),
        ({"n_tags": 0}, ["n_tags=0 is not >= 1"]),
        ({"n_pos": -1}, ["n_pos=-1 is not >= 0"]),
        ({"n_words": 2.5, "depth": 0}, ["n_words=2.5 is not a whole number", "depth=0 is not from 1 to 100"]),
        ({"hidden_width": True}, ["hidden_width=True is not a whole number"]),
        ({"char_edges": 2}, ["char_edges=2 is not from 0 to 1"]),
        ({"char_kernels": 11}, ["char_kernels=11 is not from 1 to 10"]),
        ({"extra_heads": [3]}, ["extra_heads=[3] is not a list of whole numbers"]),
        ({"extra_heads": (3, 0, "x")}, ["extra_heads[1]=0 is not >= 1", "extra_heads[2]='x' is not a whole number"]),
    ],
)
def test_bad_sizes_are_named_with_their_values(sizes, problems):
    assert NetworkShape(**{**SMALL, **sizes}).problems() == problems


@pytest.mark.parametrize(
    "sizes",
    [
        {},
        {"n_pos": 0},
        {"depth": 3, "char_kernels": 3, "char_edges": 1, "extra_heads": (4, 2)},
        {"n_pos": 0, "depth": 2, "extra_heads": (1,)},
    ],
)
def test_parameter_count_is_that_of_the_built_network(sizes):
    shape = NetworkShape(**{**SMALL, **sizes})
    network = BiLSTMTagger(shape)
    assert shape.n_parameters() == sum(p.numel() for p in network.parameters())
    assert shape.n_labels == network.score(torch.zeros(1, 2 * shape.hidden_width)).shape[1]


def test_parameter_count_by_hand():
    shape = NetworkShape(10, 6, 3, 2, 4, 2, 3, 5, 1, char_kernels=1, char_edges=1, extra_heads=(2,))
    words = 10 * 4
    chars = (6 + 2) * 2
    cnn = 3 * (3 * 2 + 1)
    lstm = 2 * 4 * 5 * (4 + 3 + 5 + 2)
    heads = (2 * 5 + 1) * (3 + 2 + 2)
    assert shape.n_parameters() == words + chars + cnn + lstm + heads == 714
    assert shape.n_labels == 7


def test_weights_are_named_as_in_model_files():
    network = BiLSTMTagger(NetworkShape(**{**SMALL, "depth": 2}, char_kernels=3, char_edges=1, extra_heads=(2,)))
    shapes = {name: tuple(t.shape) for name, t in network.state_dict().items()}
    assert shapes["word_embed.weight"] == (7, 4)
    assert shapes["char_embed.weight"] == (9, 3)
    assert shapes["edge_chars"] == (2, 3)
    assert shapes["char_cnn.weight"] == (2, 3, 3)
    assert shapes["char_cnn5.weight"] == (2, 3, 5)
    assert shapes["char_cnn7.weight"] == (2, 3, 7)
    assert shapes["bilstm.forward_layers.0.weight_ih_l0"] == (20, 4 + 6)
    assert shapes["bilstm.backward_layers.1.weight_ih_l0"] == (20, 10)
    assert shapes["tag_head.weight"] == (3, 10)
    assert shapes["pos_head.weight"] == (2, 10)
    assert shapes["extra_head.weight"] == (2, 10)
    assert len(shapes) == 3 + 3 * 2 + 2 * 2 * 4 + 3 * 2
    assert [cnn.padding for cnn in network.char_cnns] == [(1,), (2,), (3,)]
    bare = BiLSTMTagger(NetworkShape(**{**SMALL, "n_pos": 0}))
    assert bare.pos_head is None and bare.extra_head is None and bare.edge_chars is None
    assert "pos_head.weight" not in bare.state_dict()


def test_new_network_starts_its_output_layers_random_and_pads_with_zeros():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        shape = NetworkShape(**{**SMALL, "n_words": 2000, "n_chars": 2000}, char_edges=1, extra_heads=(2,))
        network = BiLSTMTagger(shape, dropout=0.25, word_dropout=0.5)
    assert (network.dropout, network.word_dropout) == (0.25, 0.5)
    # torch's nn.Linear start, uniform within 1/sqrt(inputs): from zero, no
    # gradient would reach the BiLSTM until these layers had grown.
    bound = 1 / (2 * SMALL["hidden_width"]) ** 0.5
    for head in (network.tag_head, network.pos_head, network.extra_head):
        for values in (head.weight, head.bias):
            assert values.all() and float(values.abs().max()) <= bound
    for embed in (network.word_embed, network.char_embed):
        assert not embed.weight[PAD].any()
        assert embed.padding_idx == PAD
        # std 0.1, not torch's N(0, 1)
        assert 0.09 < float(embed.weight[1:].detach().std()) < 0.11
    assert 0.02 < float(network.edge_chars.detach().abs().mean()) < 0.2


def test_reverse_rows_by_hand():
    rows = torch.tensor([[[1.0], [2.0], [3.0]], [[4.0], [5.0], [6.0]]])
    reverse = torch.tensor([[1, 0, 2], [2, 1, 0]])
    assert reverse_rows(rows, reverse)[:, :, 0].tolist() == [[2.0, 1.0, 3.0], [6.0, 5.0, 4.0]]
    wide = torch.arange(12.0).reshape(1, 3, 4)
    assert reverse_rows(wide, torch.tensor([[2, 1, 0]])).tolist() == [wide[0].flip(0).tolist()]


def test_largest_by_hand_with_and_without_gradients():
    outputs = torch.tensor([[[1.0, 3.0, 2.0], [-1.0, -4.0, -2.0]]])  # 1 word, 2 features, 3 positions
    with torch.inference_mode():
        assert largest(outputs).tolist() == [[3.0, -1.0]]
    tied = torch.tensor([[[5.0, 5.0, 1.0]]], requires_grad=True)
    top = largest(tied)
    assert top.tolist() == [[5.0]]
    top.sum().backward()
    # The whole gradient goes to one of the tied positions, as max's does.
    assert sorted(tied.grad[0, 0].tolist()) == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_bilstm_equals_torch_bidirectional_lstm_on_packed_rows(depth):
    torch.manual_seed(depth)
    bilstm = BiLSTM(3, 4, depth)
    generator = torch.Generator().manual_seed(1)
    rows = torch.randn(4, 5, 3, generator=generator)
    lengths = torch.tensor([5, 2, 1, 4])
    with torch.no_grad():
        ours = bilstm(rows, lengths, 0.5, False)
    assert ours.shape == (4, 5, 8)
    expected = packed_bilstm(bilstm, rows, lengths)
    torch.testing.assert_close(tokens_of(ours, lengths), tokens_of(expected, lengths), rtol=1e-5, atol=1e-6)
    # Padding never changes the tokens' outputs.
    rows[torch.arange(5) >= lengths[:, None]] = 100.0
    with torch.no_grad():
        again = bilstm(rows, lengths, 0.5, False)
    torch.testing.assert_close(tokens_of(again, lengths), tokens_of(ours, lengths))


def test_bilstm_dropout_is_between_layers_only_and_only_in_training():
    torch.manual_seed(0)
    rows = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(2))
    lengths = torch.tensor([3, 2])
    one = BiLSTM(3, 4, 1)
    with torch.no_grad():
        torch.testing.assert_close(one(rows, lengths, 0.9, True), one(rows, lengths, 0.0, False))
        two = BiLSTM(3, 4, 2)
        assert not torch.allclose(two(rows, lengths, 0.9, True), two(rows, lengths, 0.0, False))
        torch.testing.assert_close(two(rows, lengths, 0.9, False), two(rows, lengths, 0.0, False))
        torch.testing.assert_close(two(rows, lengths, 0.0, True), two(rows, lengths, 0.0, False))


def test_char_features_are_the_relu_of_each_cnns_maximum():
    for sizes in ({}, {"char_kernels": 3, "char_edges": 1}):
        network = seeded_network(**sizes)
        with torch.no_grad():
            ours = network.char_features(type_chars_of(WORDS))
        expected = numpy_char_features(network, WORDS)
        assert ours.shape == expected.shape
        numpy.testing.assert_allclose(ours.numpy(), expected, rtol=1e-5, atol=1e-6)
        assert not ours[0].any()  # a word without characters


def test_char_features_of_a_word_do_not_depend_on_the_other_words():
    network = seeded_network(char_kernels=2, char_edges=1)
    with torch.no_grad():
        alone = network.char_features(type_chars_of([[5, 2]]))
        among = network.char_features(type_chars_of(WORDS))
        unsorted = network.char_features(type_chars_of([[1, 6, 7, 8], [5, 2], [], [3]]))
    torch.testing.assert_close(among[3], alone[0])
    torch.testing.assert_close(unsorted[1], alone[0])
    numpy.testing.assert_allclose(
        unsorted.numpy(), numpy_char_features(network, [[1, 6, 7, 8], [5, 2], [], [3]]), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("sizes", [{}, {"depth": 2, "char_kernels": 2, "char_edges": 1}])
@pytest.mark.parametrize("group_size", [1, 2, 3, 16])
def test_encode_equals_embeddings_and_features_through_torch_lstm(sizes, group_size):
    network = seeded_network(**sizes)
    ours = encode(network, group_size)
    assert ours.shape == (8, 10)
    torch.testing.assert_close(ours, reference_encode(network), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("group_size", [1, 3])
def test_tagging_encodes_exactly_as_training_without_dropout(group_size):
    """Tagging builds each group's rows on its own; the values are those of
    the padded batch that training builds, to the last bit."""
    network = seeded_network(depth=2, char_kernels=2)
    assert network.dropout == network.word_dropout == 0.0
    assert torch.equal(encode(network, group_size), encode(network, group_size, train=True))


def test_scores_are_each_heads_linear_layer_side_by_side():
    network = seeded_network(extra_heads=(2, 1))
    hidden = torch.randn(6, 10, generator=torch.Generator().manual_seed(3))
    weights = torch.cat([network.tag_head.weight, network.pos_head.weight, network.extra_head.weight]).detach()
    biases = torch.cat([network.tag_head.bias, network.pos_head.bias, network.extra_head.bias]).detach()
    with torch.no_grad():
        expected = hidden @ weights.T + biases
        torch.testing.assert_close(network.score(hidden), expected)
        for columns in (slice(0, 3), slice(1, 3), slice(3, 5), slice(4, 5), slice(5, 7), slice(6, 8), slice(5, 8)):
            torch.testing.assert_close(network.score(hidden, columns), expected[:, columns])
        assert network.head_sizes() == [3, 2, 2, 1]
        with pytest.raises(ValueError, match="^columns 2:4 are not within one output layer$"):
            network.score(hidden, slice(2, 4))
        with pytest.raises(ValueError, match="^columns 7:9 are not within one output layer$"):
            network.score(hidden, slice(7, 9))


def test_forward_scores_the_encoded_tokens():
    network = seeded_network(n_pos=0)
    with torch.no_grad():
        scores = network(WORD_IDS, TYPE_IDS, type_chars_of(WORDS), LENGTHS, 2)
        expected = reference_encode(network) @ network.tag_head.weight.T + network.tag_head.bias
    assert network.head_sizes() == [3]
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
    # Options reach encode: the group size, and training with its dropout.
    network.dropout = 0.5
    with torch.no_grad():
        grouped = network(WORD_IDS, TYPE_IDS, type_chars_of(WORDS), LENGTHS, group_size=1)
        torch.manual_seed(0)
        trained = network(WORD_IDS, TYPE_IDS, type_chars_of(WORDS), LENGTHS, group_size=1, train=True)
    torch.testing.assert_close(grouped, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(trained, expected)


def test_empty_rows_give_no_tokens():
    network = seeded_network()
    word_ids = torch.tensor([[PAD, PAD], [PAD, PAD], [3, 2]])
    type_ids = torch.tensor([[0, 0], [0, 0], [1, 2]])
    lengths = torch.tensor([0, 0, 2])
    with torch.no_grad():
        ours = network.encode(word_ids, type_ids, type_chars_of(WORDS), lengths, 2)
        torch.testing.assert_close(
            ours, reference_encode(network, word_ids[2:], type_ids[2:], lengths[2:]), rtol=1e-5, atol=1e-5
        )
        nothing = network.encode(word_ids[:2], type_ids[:2], type_chars_of([[]]), lengths[:2], 1)
    assert nothing.shape == (0, 10)


def test_encode_runs_the_given_lstm_only_when_not_training():
    network = seeded_network()
    calls = []

    def lstm(rows, lengths):
        calls.append(lengths.tolist())
        return torch.ones(rows.shape[0], rows.shape[1], 10)

    assert encode(network, 2, lstm=lstm).tolist() == [[1.0] * 10] * 8
    assert calls == [[1, 3], [4]]
    torch.testing.assert_close(encode(network, 2, lstm=lstm, train=True), reference_encode(network), rtol=1e-5, atol=1e-5)


def test_dropout_applies_only_in_training():
    network = seeded_network()
    network.dropout, network.word_dropout = 0.5, 0.5
    torch.testing.assert_close(encode(network), reference_encode(network), rtol=1e-5, atol=1e-5)
    torch.manual_seed(0)
    dropped = encode(network, train=True, group_size=3)
    network.word_dropout = 0.0
    torch.manual_seed(0)
    no_word_dropout = encode(network, train=True, group_size=3)
    assert not torch.allclose(dropped, no_word_dropout)
    # Dropout on the output: about half the values zero, the others doubled...
    zero = no_word_dropout == 0
    assert 0.3 < float(zero.float().mean()) < 0.7
    # ... of a BiLSTM output that dropout on the input changed as well.
    clean = reference_encode(network)
    assert not torch.allclose(no_word_dropout[~zero], 2 * clean[~zero], atol=1e-3)


def test_word_dropout_replaces_known_words_by_the_unknown_word():
    network = seeded_network()
    network.word_dropout = 0.999999
    torch.manual_seed(0)
    ours = encode(network, train=True)
    unknown = torch.where(WORD_IDS == PAD, PAD, UNKNOWN)
    torch.testing.assert_close(ours, reference_encode(network, word_ids=unknown), rtol=1e-5, atol=1e-5)


def test_rare_word_dropout_keeps_the_words():
    network = seeded_network()
    network.word_dropout = 1e-9
    torch.manual_seed(0)
    torch.testing.assert_close(encode(network, train=True), reference_encode(network), rtol=1e-5, atol=1e-5)


def test_extra_heads_send_their_share_of_the_gradient_to_the_encoder():
    def gradients(share, columns):
        network = seeded_network(extra_heads=(2, 1))
        if share is not None:  # None: the network's default
            network.extra_gradient = share
        scores = network(WORD_IDS, TYPE_IDS, type_chars_of(WORDS), LENGTHS, 2, train=True)
        weights = torch.randn(scores.shape, generator=torch.Generator().manual_seed(5))
        (scores[:, columns] * weights[:, columns]).sum().backward()
        return scores.detach(), {name: param.grad.clone() for name, param in network.named_parameters()}

    # Each part of the loss alone, every gradient in full (as before the setting).
    _, tag_pos = gradients(1.0, slice(0, 5))
    _, extra = gradients(1.0, slice(5, 8))
    # ... which is the default.
    _, default = gradients(None, slice(0, 8))
    for name, grad in default.items():
        torch.testing.assert_close(grad, tag_pos[name] + extra[name], rtol=1e-5, atol=1e-6, msg=name)
    scores, damped = gradients(0.25, slice(0, 8))
    with torch.no_grad():
        plain = seeded_network(extra_heads=(2, 1))(WORD_IDS, TYPE_IDS, type_chars_of(WORDS), LENGTHS, 2)
    torch.testing.assert_close(scores, plain)  # the scores themselves do not change
    for name, grad in damped.items():
        if name.startswith(("tag_head", "pos_head", "extra_head")):
            expected = tag_pos[name] + extra[name]  # the output layers learn from all of it
        else:
            expected = tag_pos[name] + 0.25 * extra[name]
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-6, msg=name)
    assert extra["word_embed.weight"].abs().sum() > 0  # the extra heads do reach the encoder


@pytest.mark.parametrize("n_pos", [0, 2])
def test_extra_gradient_without_extra_heads_changes_nothing(n_pos):
    """Only the extra heads' gradient is scaled: without them the setting
    changes neither the scores nor the gradients, in training or not."""
    def run(share, train):
        network = seeded_network(n_pos=n_pos)
        network.extra_gradient = share
        scores = network(WORD_IDS, TYPE_IDS, type_chars_of(WORDS), LENGTHS, 2, train=train)
        if train:
            (scores * torch.randn(scores.shape, generator=torch.Generator().manual_seed(6))).sum().backward()
        return scores.detach(), {name: param.grad for name, param in network.named_parameters()}

    network = seeded_network(n_pos=n_pos)
    with torch.no_grad():
        expected = network.score(reference_encode(network))
    for train in (False, True):
        scores, grads = run(0.25, train)
        torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
        _, full = run(1.0, train)
        for name, grad in grads.items():
            torch.testing.assert_close(grad, full[name], msg=name)
