"""The server: a Flower ServerApp that samples devices, aggregates their updates and evaluates.

Assembled from Flower's own parts, in the shape Flower's SecAgg+ example uses (the legacy strategy
API, which is what `SecAggPlusWorkflow` drives):

    RoundObserver                      reports each round (services/federated/events.py)
      DifferentialPrivacyClientSideFixedClipping   when privacy is declared: noise on the mean
        FedAvg | FedProx               sampling, the mean, the server's evaluation
    DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))   when secure aggregation is on

and run over `Network` (network.py), which wraps whatever Grid the ServerApp is given with the
declared dropouts and counts the bytes. Evaluation is centralised: the server scores each new
global model on rows it holds itself (services/federated/data.py), so no device is asked to
evaluate and every round's accuracy is on the same rows.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from flwr.common import Context, ndarrays_to_parameters
from flwr.server import Grid, LegacyContext, ServerApp, ServerConfig, SimpleClientManager
from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg, FedProx, Strategy
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

from services.federated import model
from services.federated.data import Pool
from services.federated.events import Event, RoundReport, Started
from services.federated.flower.network import Network, RoundTraffic, Tap
from services.federated.flower.privacy import PrivacyLedger
from services.federated.spec import RunSpec

__all__ = ["build_server_app", "RoundObserver", "SeededClientManager", "base_strategy"]

# SecAgg+ quantises each parameter (times its device's weight share) into [-range, range]; the
# model's parameters stay well inside it on standardised features.
CLIPPING_RANGE = 8.0


def base_strategy(spec: RunSpec, pool: Pool) -> Strategy:
    """FedAvg or FedProx, sampling exactly `spec.sampled` devices a round and evaluating on the
    server's rows; wrapped for central differential privacy when the spec declares it."""

    def evaluate(server_round, parameters, config):
        loss, accuracy = model.evaluate(parameters, pool.test_x, pool.test_y)
        return loss, {"accuracy": accuracy}

    common = {
        "fraction_fit": spec.fraction_per_round,
        "min_fit_clients": spec.sampled,
        "min_available_clients": spec.devices,
        "fraction_evaluate": 0.0,  # no federated evaluation: the server evaluates on its own rows
        "evaluate_fn": evaluate,
        "on_fit_config_fn": lambda server_round: {"round": server_round},
        "fit_metrics_aggregation_fn": lambda metrics: {},
        "initial_parameters": ndarrays_to_parameters(model.initial(spec.data.features, spec.data.classes)),
    }
    if spec.strategy == "fedprox":
        strategy: Strategy = FedProx(proximal_mu=spec.proximal_mu, **common)
    else:
        strategy = FedAvg(**common)
    if spec.privacy is not None:
        strategy = DifferentialPrivacyClientSideFixedClipping(
            strategy, spec.privacy.noise_multiplier, spec.privacy.clipping_norm, spec.sampled
        )
    return strategy


class SeededClientManager(SimpleClientManager):
    """Flower's client manager, sampling with a generator of its own: which devices a round samples
    depends on the run's seed alone, not on what else drew from `random` (SecAgg+ shuffles its ring of
    neighbours with it), so a run with secure aggregation and one without sample the same devices."""

    def __init__(self, seed: int):
        super().__init__()
        self._random = random.Random(seed)

    def sample(self, num_clients, min_num_clients=None, criterion=None):
        self.wait_for(num_clients if min_num_clients is None else min_num_clients)
        available = [cid for cid in sorted(self.clients) if criterion is None or criterion.select(self.clients[cid])]
        if num_clients > len(available):
            return []
        return [self.clients[cid] for cid in self._random.sample(available, num_clients)]


class RoundObserver(Strategy):
    """Passes everything to the strategy it wraps and reports each round once it is evaluated."""

    def __init__(self, strategy: Strategy, network: Network, spec: RunSpec, emit: Callable[[Event], None]):
        super().__init__()
        self._strategy, self._network, self._spec, self._emit = strategy, network, spec, emit
        self._ledger = PrivacyLedger(spec.privacy, spec.devices, spec.sampled) if spec.privacy else None
        self._started = time.perf_counter()
        self._aggregated: dict[int, bool] = {}
        self.setup_seconds = 0.0

    def initialize_parameters(self, client_manager):
        return self._strategy.initialize_parameters(client_manager)

    def configure_fit(self, server_round, parameters, client_manager):
        self._started = time.perf_counter()
        return self._strategy.configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(self, server_round, results, failures):
        parameters, metrics = self._strategy.aggregate_fit(server_round, results, failures)
        self._aggregated[server_round] = parameters is not None
        if parameters is not None and self._ledger is not None:
            self._ledger.release(len(results))
        return parameters, metrics

    def configure_evaluate(self, server_round, parameters, client_manager):
        return self._strategy.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round, results, failures):
        return self._strategy.aggregate_evaluate(server_round, results, failures)

    def evaluate(self, server_round, parameters):
        result = self._strategy.evaluate(server_round, parameters)
        loss, metrics = result if result is not None else (float("nan"), {"accuracy": float("nan")})
        if server_round == 0:
            secagg = self._spec.secagg()
            self._emit(
                Started(
                    devices=self._spec.devices,
                    sampled=self._spec.sampled,
                    rounds=self._spec.rounds,
                    strategy=self._spec.strategy,
                    accuracy=float(metrics["accuracy"]),
                    setup_seconds=self.setup_seconds,
                    num_shares=secagg.num_shares if secagg else None,
                    threshold=secagg.threshold if secagg else None,
                )
            )
            return result
        traffic = self._network.rounds.get(str(server_round), RoundTraffic())
        epsilon, delta = self._ledger.spent() if self._ledger else (None, None)
        self._emit(
            RoundReport(
                round=server_round,
                sampled=traffic.sampled,
                answered=traffic.answered,
                dropped=traffic.dropped,
                aggregated=self._aggregated.get(server_round, False),
                accuracy=float(metrics["accuracy"]),
                loss=float(loss),
                seconds=time.perf_counter() - self._started,
                bytes_down=traffic.bytes_down,
                bytes_up=traffic.bytes_up,
                messages=traffic.messages,
                epsilon=epsilon,
                delta=delta,
            )
        )
        return result

    def privacy_spent(self) -> tuple[float | None, float | None]:
        return self._ledger.spent() if self._ledger else (None, None)


def build_server_app(
    spec: RunSpec,
    pool: Pool,
    *,
    max_weight: int,
    emit: Callable[[Event], None],
    tap: Tap | None = None,
    on_finish: Callable[[LegacyContext, RoundObserver], None] | None = None,
    setup_seconds: float = 0.0,
) -> ServerApp:
    """The ServerApp for one run. `max_weight` bounds a device's weight under SecAgg+ (its row
    count); `on_finish` receives the final context (the global model is in its state)."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        network = Network(grid, spec.dropout_rate, seed=spec.data.seed, tap=tap)
        observer = RoundObserver(base_strategy(spec, pool), network, spec, emit)
        observer.setup_seconds = setup_seconds
        legacy = LegacyContext(
            context=context,
            config=ServerConfig(num_rounds=spec.rounds),
            strategy=observer,
            client_manager=SeededClientManager(spec.data.seed),
        )
        secagg = spec.secagg()
        fit_workflow = None
        if secagg is not None:
            fit_workflow = SecAggPlusWorkflow(
                num_shares=secagg.num_shares,
                reconstruction_threshold=secagg.threshold,
                max_weight=float(max_weight),
                clipping_range=CLIPPING_RANGE,
            )
        DefaultWorkflow(fit_workflow=fit_workflow)(network, legacy)
        if on_finish is not None:
            on_finish(legacy, observer)

    return app
