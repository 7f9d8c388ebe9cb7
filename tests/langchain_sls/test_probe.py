from langchain_sls import _probe


def test_the_probe_measures_the_adapter_and_langchains_own_floor():
    found = _probe.adapter_overhead(calls=40)
    assert found["name"] == "langchain"
    assert set(found) >= {"engine_p50_us", "adapter_p50_us", "adapter_p99_us", "framework_p50_us"}
    assert found["engine_p50_us"] > 0


def test_the_floors_bare_arm_skips_langchains_callbacks():
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.messages import HumanMessage

    seen = []

    class Count(BaseCallbackHandler):
        def on_chat_model_start(self, *args, **kwargs):
            seen.append(1)

    model = _probe._InstantModel(callbacks=[Count()])
    model.invoke([HumanMessage("q")])
    model._generate([HumanMessage("q")])
    assert seen == [1]
