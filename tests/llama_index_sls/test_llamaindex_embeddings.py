"""HashingEmbedding: offline, deterministic, and good enough to retrieve by words."""

from __future__ import annotations

import numpy as np
from llama_index.core import Document, VectorStoreIndex

from llama_index_sls import HashingEmbedding


def test_deterministic_unit_vectors():
    emb = HashingEmbedding(embed_dim=128)
    a = emb.get_text_embedding("The battery charges in five hours.")
    assert len(a) == 128 and abs(np.linalg.norm(a) - 1.0) < 1e-5
    assert a == HashingEmbedding(embed_dim=128).get_text_embedding("The battery charges in five hours.")
    batch = emb.get_text_embedding_batch(["x y z", "The battery charges in five hours."])
    assert np.allclose(batch[1], a)


async def test_async_matches_sync():
    emb = HashingEmbedding(embed_dim=64)
    assert await emb.aget_query_embedding("hello") == emb.get_query_embedding("hello")


def test_retrieval_picks_the_document_that_shares_the_words():
    docs = [Document(text="Bike frames have a lifetime warranty."),
            Document(text="The store opens at nine on weekdays."),
            Document(text="The e-bike battery charges fully in about five hours.")]
    index = VectorStoreIndex.from_documents(docs, embed_model=HashingEmbedding())
    nodes = index.as_retriever(similarity_top_k=1).retrieve("how long does the battery take to charge")
    assert "battery" in nodes[0].node.get_content()
    nodes = index.as_retriever(similarity_top_k=1).retrieve("what warranty do bike frames have")
    assert "warranty" in nodes[0].node.get_content()
