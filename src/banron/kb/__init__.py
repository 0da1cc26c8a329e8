"""Knowledge base: loaders -> chunking -> {embedder, Korean-aware tokenizer} -> index -> hybrid search."""
