"""Internal consistency of the numpy reference (hymba_ref.py) and the checkpoint writer.

Needs no engine: the checkpoints are written to a temporary folder by tools/make_checkpoint.py.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools"))
import hymba_ref  # noqa: E402
import make_checkpoint  # noqa: E402

_tmp = None


def setUpModule():
    global _tmp
    _tmp = tempfile.TemporaryDirectory(prefix="hymba-selfcheck-")


def tearDownModule():
    _tmp.cleanup()


def write(name, *args):
    """Writes a checkpoint with make_checkpoint.py args into the temp folder; returns its path."""
    out = os.path.join(_tmp.name, name)
    if not os.path.exists(os.path.join(out, "config.json")):
        subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_checkpoint.py"),
                        "--out", out, *args], check=True, stdout=subprocess.DEVNULL)
    return out


def tokens(n, vocab, seed=0):
    return np.random.default_rng(seed).integers(3, vocab, size=n).tolist()


class MaskTest(unittest.TestCase):
    def test_mask_matches_the_rule(self):
        for T, M, W in [(1, 0, 1), (20, 0, 3), (30, 4, 5), (40, 8, 8), (17, 3, 16)]:
            for is_global in (False, True):
                mask = hymba_ref.attention_mask(T, M, W, is_global)
                for q in range(T):
                    for k in range(T):
                        want = k <= q and (is_global or q - k <= W or k < M)
                        self.assertEqual(bool(mask[q, k]), want, (T, M, W, is_global, q, k))

    def test_swa_row_sees_meta_plus_window(self):
        M, W = 4, 5
        mask = hymba_ref.attention_mask(40, M, W, False)
        q = 30  # far from the meta tokens: the M meta keys, the W keys before q and q itself
        self.assertEqual(np.flatnonzero(mask[q]).tolist(),
                         list(range(M)) + list(range(q - W, q + 1)))


class RopeTest(unittest.TestCase):
    def test_scores_depend_on_relative_position_only(self):
        rng = np.random.default_rng(1)
        q, k = rng.standard_normal((1, 1, 16)), rng.standard_normal((1, 1, 16))
        base = 500.0
        dots = [float(np.sum(hymba_ref.apply_rope(q, np.array([p + 7]), base) *
                             hymba_ref.apply_rope(k, np.array([p]), base))) for p in (0, 13, 400)]
        self.assertAlmostEqual(dots[0], dots[1], places=9)
        self.assertAlmostEqual(dots[0], dots[2], places=9)

    def test_ntk_base_of_hymba_1_5b(self):
        cfg = {"rope_type": "ntk", "rope_theta": 10000.0, "max_position_embeddings": 8192,
               "orig_max_position_embeddings": 2048}
        self.assertAlmostEqual(hymba_ref.rope_base(cfg, 64), 10000.0 * 7.0 ** (64 / 62), places=6)
        self.assertEqual(hymba_ref.rope_base(dict(cfg, rope_type="default"), 64), 10000.0)


class ForwardTest(unittest.TestCase):
    def test_causality(self):
        for preset in ("tiny-a", "tiny-c", "tiny-d"):
            m = hymba_ref.load(write(preset, "--preset", preset))
            seq = tokens(3 * m.W + 2, m.cfg["vocab_size"])
            full = hymba_ref.forward(m, seq)
            for n in (1, m.W, 2 * m.W + 1):
                np.testing.assert_allclose(hymba_ref.forward(m, seq[:n]), full[:n], rtol=0,
                                           atol=1e-10, err_msg=f"{preset}, prefix {n}")

    def test_far_tokens_reach_only_through_ssm_and_full_attention(self):
        for preset in ("tiny-a", "tiny-d"):
            with self.subTest(preset=preset):
                self.check_reach(hymba_ref.load(write(preset, "--preset", preset)))

    def check_reach(self, m):
        L, W = m.L, m.W
        # With the scan silenced and no full-attention layers, a layer moves information at most W
        # positions forward through attention, reading the K/V of its group's producer (so from the
        # producer's input), and Kc-1 through the conv. `reach` is how far token 0 gets.
        layer_input_reach, reach = {}, 0
        for i in range(L):
            layer_input_reach[i] = reach
            producer = m.producer_of.get(i, i)
            reach = max(reach, layer_input_reach[producer] + W, reach + m.Kc - 1)
        seq = tokens(reach + 8, m.cfg["vocab_size"])
        changed = list(seq)
        changed[0] = 3 if seq[0] != 3 else 4
        def diff():
            return np.abs(hymba_ref.forward(m, seq) - hymba_ref.forward(m, changed)).max(axis=1)

        full_layers, scan_weights = m.global_layers, {}
        m.global_layers = set()
        for i in range(L):  # dt = softplus(-80) ~ 0: the scan state stays ~0
            for name, value in ((f"model.layers.{i}.mamba.dt_proj.0.weight", 0.0),
                                (f"model.layers.{i}.mamba.dt_proj.0.bias", -80.0)):
                scan_weights[name] = m.w[name]
                m.w[name] = np.full_like(m.w[name], value)
        d = diff()
        self.assertTrue(np.all(d[reach + 1:] < 1e-12), d)
        self.assertGreater(d[reach], 1e-6)
        # Full attention alone reaches every later position ...
        m.global_layers = full_layers
        self.assertTrue(np.all(diff() > 1e-6))
        # ... and so does the scan alone.
        m.global_layers = set()
        m.w.update(scan_weights)
        self.assertTrue(np.all(diff() > 1e-6))

    def test_explicit_lm_head_equal_to_embedding(self):
        plain = write("tiny-a", "--preset", "tiny-a")
        explicit = write("tiny-a-lm-head", "--preset", "tiny-a", "--write-lm-head")
        a, b = hymba_ref.load(plain), hymba_ref.load(explicit)
        self.assertNotIn("lm_head.weight", a.w)
        self.assertIn("lm_head.weight", b.w)
        seq = tokens(20, a.cfg["vocab_size"])
        np.testing.assert_array_equal(hymba_ref.forward(a, seq), hymba_ref.forward(b, seq))

    def test_shards_and_seed(self):
        single = hymba_ref.load(write("tiny-a", "--preset", "tiny-a"))
        sharded = hymba_ref.load(write("tiny-a-3", "--preset", "tiny-a", "--shards", "3"))
        other = hymba_ref.load(write("tiny-a-seed", "--preset", "tiny-a", "--seed", "1"))
        self.assertEqual(sorted(single.w), sorted(sharded.w))
        for name in single.w:
            np.testing.assert_array_equal(single.w[name], sharded.w[name], err_msg=name)
        self.assertFalse(np.array_equal(single.w["model.embed_tokens.weight"],
                                        other.w["model.embed_tokens.weight"]))


class CheckpointFormatTest(unittest.TestCase):
    def test_bf16_round_to_nearest_even(self):
        x = np.array([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -2.5, 3e38],
                     dtype=np.float32)
        self.assertEqual(make_checkpoint.f32_to_bf16_bits(x).tolist(),
                         [0x3F80, 0x3F80, 0x3F82, 0x3F81, 0xC020, 0x7F62])

    def test_safetensors_layout(self):
        for preset in ("tiny-b", "tiny-e"):
            out = write(preset, "--preset", preset)
            with open(os.path.join(out, "model.safetensors.index.json")) as f:
                index = json.load(f)
            total, names = 0, set()
            for fname in sorted(set(index["weight_map"].values())):
                with open(os.path.join(out, fname), "rb") as f:
                    data = f.read()
                n = int.from_bytes(data[:8], "little")
                self.assertEqual(n % 8, 0)
                header = json.loads(data[8:8 + n])
                self.assertEqual(header.pop("__metadata__"), {"format": "pt"})
                spans = sorted(tuple(t["data_offsets"]) for t in header.values())
                self.assertEqual(spans[0][0], 0)
                for (_, end), (start, _) in zip(spans, spans[1:]):
                    self.assertEqual(end, start, f"{fname}: gap or overlap")
                self.assertEqual(len(data), 8 + n + spans[-1][1])
                for name, t in header.items():
                    item = {"BF16": 2, "F32": 4}[t["dtype"]]
                    self.assertEqual(t["data_offsets"][1] - t["data_offsets"][0],
                                     item * int(np.prod(t["shape"])), name)
                    self.assertEqual(index["weight_map"][name], fname)
                total += spans[-1][1]
                names |= set(header)
            self.assertEqual(names, set(index["weight_map"]))
            self.assertEqual(index["metadata"]["total_size"], total)

    def test_tokenizer_files(self):
        out = write("tiny-a", "--preset", "tiny-a")
        with open(os.path.join(out, "config.json")) as f:
            cfg = json.load(f)
        with open(os.path.join(out, "tokenizer_config.json")) as f:
            tok = json.load(f)
        pad = [int(i) for i, t in tok["added_tokens_decoder"].items() if t["content"] == "[PAD]"]
        self.assertEqual(pad, [cfg["vocab_size"] - 1])
        self.assertTrue(tok["add_bos_token"])
        self.assertFalse(tok["add_eos_token"])
        try:
            import sentencepiece as spm
        except ImportError:
            self.skipTest("sentencepiece is not installed")
        sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model"))
        self.assertEqual((sp.unk_id(), sp.bos_id(), sp.eos_id()), (0, 1, 2))
        self.assertEqual(sp.vocab_size(), pad[0])
        text = "The café was naïve: 日本語 🙂!"
        self.assertEqual(sp.decode(sp.encode(text)), text)


if __name__ == "__main__":
    unittest.main()
