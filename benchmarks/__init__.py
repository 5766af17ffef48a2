"""Benchmarks of papercls against plain transformers recipes (issue "Benchmarks").

Run by hand (not part of the test suite), from the repository root:

    python benchmarks/run.py            # full run (< 25 min on 2 CPU cores)
    python benchmarks/run.py --quick    # smaller sizes, a few minutes
    python benchmarks/run.py --only training,pipeline
    python -m benchmarks --quick        # the same, as a package

It prints one table of figures with their targets and writes the same to
``benchmarks/results.json`` and ``benchmarks/results.md``.

1. training   our training loop (``papercls.training.loop.train``, length-grouped batches, dynamic
              padding) against a plain ``transformers.Trainer`` fine-tune of the same backbone
              on the same rows (run_classification recipe: padding="max_length", default
              collator, random sampler; ``--group-by-length``: the Trainer's length-grouped
              sampler and padding to each batch's longest row instead); samples/s, validation
              F1 of both, and the fraction of the CPU's peak fp32 FLOP rate our training step
              reaches.
2. inference  our inference engines (``papercls.inference.engine``: torch fp32, torch bf16
              where the CPU has it natively, torch dynamic int8, ONNX Runtime fp32 and int8) against
              ``pipeline("text-classification")`` with the same batch size, on the
              competition's testB.csv (``--infer-rows``, default 2,000): rows/s by wall and
              CPU time, label agreement with torch fp32 and the largest probability
              difference; the CPU's capabilities are printed first.
3. pipeline   ``dvc repro`` with nothing changed, after a threshold-only change (which stages
              rerun), and the preprocess of a 100k-row generated corpus (time, peak memory).
4. gpu        bert-base-uncased with mixed precision, only on a CUDA machine.

FLOP model (stated in the output as well), per sequence of ``s`` tokens with ``N`` non-embedding
parameters, ``L`` layers and hidden size ``d``:
    training  (forward + backward): 6*N*s + 12*L*d*s^2
    inference (forward):            2*N*s +  4*L*d*s^2
The attention term counts both matmuls (Q.K^T and A.V, 2*s*d multiply-adds each per token and
layer, no causal mask); element-wise work (softmax, GELU, layer norm) is left out.

Modules: ``cli`` (arguments, running order, the summary), one module per benchmark
(``training`` with ``peer_trainer``, ``inference`` with ``engines`` (the methods timed) and
``inference_model`` (the model they run), ``pipeline`` with ``dvc_repo``,
``preprocess_scale``, ``thresholds_bootstrap``, ``gpu``) and shared helpers: ``config``
(paths, sizes), ``timing`` (wall/CPU clocks, load average, interleaving), ``machine`` (CPU
facts and peak, environment), ``flops`` (the FLOP model), ``workload`` (the project's params,
rows and models) and ``results`` (result rows, text/markdown tables, results.json/.md).
Every module imports only the standard library at module level, so loading is fast; torch,
transformers and papercls are imported inside the functions that need them.

Run by hand, outside ``run.py``: ``python -m benchmarks.precision_training`` (bf16 against
fp32 training on this CPU, on real labelled MAG titles; see that module), and
``python -m benchmarks.real_data``: the whole pipeline on the real MAG titles (train.csv ->
eval.csv) through params overrides, per variant, beside a plain ``Trainer`` and TF-IDF
(README "Results on real data"; the measured table is in ``benchmarks/real_data_results.md``).

Real data (testB, MAG titles) is read from ../shared/data, or from $PAPERCLS_SHARED_DATA.
"""
