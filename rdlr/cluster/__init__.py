"""Where rdlr runs: the Ray session a command uses and how large the cluster may grow.

:mod:`rdlr.cluster.session` connects to, starts and leaves Ray; :mod:`rdlr.cluster.capacity` reads the autoscaler's
node types so that work is sized for every node the cluster may launch.
"""
