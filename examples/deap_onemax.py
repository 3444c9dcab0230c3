"""An evolutionary algorithm of DEAP, its evaluations spread by scoop_hpc.

What it shows
    * DEAP's algorithms evaluate each generation through ``toolbox.map``;
      registering ``futures.map`` there is all it takes, as with SCOOP.
    * What DEAP's ``creator`` makes at the module's top level (the
      ``Individual`` class) exists on every worker, because each worker
      imports this file; only the main code sits under the ``__main__``
      guard, and only the root runs it.
    * Reproducible runs: the algorithm's random choices are all made in
      the root, an evaluation depends on its individual alone, and
      ``futures.map`` returns the fitnesses in order, so the log is the
      same with any number of workers, or without the launcher.

How to run it
    pip install deap
    python -m scoop_hpc -n 4 examples/deap_onemax.py [GENERATIONS] [POPULATION]

OneMax: individuals of 100 bits, the fitness is the count of ones (each
evaluation repeated ``WORK`` times, about a millisecond, to stand for a
costlier model). GENERATIONS defaults to 20, POPULATION to 100. The last
line names the workers that evaluated the last population once more.
"""
import random
import sys

from deap import algorithms, base, creator, tools

import scoop_hpc
from scoop_hpc import futures

BITS = 100
WORK = 2000     # times each evaluation is computed (all give the same)
SEED = 64

creator.create("FitnessMax", base.Fitness, weights=(1.0,))
creator.create("Individual", list, fitness=creator.FitnessMax)


def evaluate(individual):
    """The number of ones, as DEAP's one-objective fitness tuple."""
    ones = 0
    for _ in range(WORK):
        ones = sum(individual)
    return (ones,)


def evaluated_on(individual):
    """The worker that evaluates ``individual`` (again) here."""
    evaluate(individual)
    return scoop_hpc.WORKER_NAME


toolbox = base.Toolbox()
toolbox.register("bit", random.randint, 0, 1)
toolbox.register("individual", tools.initRepeat, creator.Individual,
                 toolbox.bit, BITS)
toolbox.register("population", tools.initRepeat, list, toolbox.individual)
toolbox.register("evaluate", evaluate)
toolbox.register("mate", tools.cxTwoPoint)
toolbox.register("mutate", tools.mutFlipBit, indpb=0.05)
toolbox.register("select", tools.selTournament, tournsize=3)
toolbox.register("map", futures.map)     # the one line scoop_hpc needs


def main(generations, size):
    random.seed(SEED)
    population = toolbox.population(n=size)
    best = tools.HallOfFame(1)
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("max", max)
    stats.register("mean", lambda values: sum(values) / len(values))
    _, log = algorithms.eaSimple(population, toolbox, cxpb=0.5, mutpb=0.2,
                                 ngen=generations, stats=stats,
                                 halloffame=best, verbose=False)
    for entry in log:
        print(f"generation {entry['gen']:3d}: {entry['nevals']:4d} "
              f"evaluations, best {entry['max']:5.1f}, "
              f"mean {entry['mean']:6.2f}")
    print(f"best individual: {sum(best[0])} ones of {BITS}")
    workers = sorted(set(futures.map(evaluated_on, population)))
    print(f"the last population evaluated again on {', '.join(workers)}")


if __name__ == "__main__":
    generations = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    main(generations, size)
