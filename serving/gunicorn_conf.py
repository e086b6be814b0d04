"""gunicorn settings for ModelDeck: ``gunicorn -c serving/gunicorn_conf.py app:server``
(``make run`` does this). Every value can be changed from the environment:

    MODELDECK_BIND=127.0.0.1:8050  MODELDECK_WORKERS=4  MODELDECK_THREADS=4
    MODELDECK_TIMEOUT=60

Worker processes are what let two requests compute at the same time (the work is Python
holding the GIL); threads let a worker answer warm requests while others wait on Redis, on
a slow MLflow server, or on a result another worker is computing. The defaults come from
benchmarks/load.py on a 2-core machine (4 x 4 beat 4 x 1 and 2 x 4); see docs/deploy.md.
"""
import multiprocessing
import os

bind = os.environ.get("MODELDECK_BIND", "127.0.0.1:8050")
# Settings.from_env reads MODELDECK_WORKERS to choose a cache the workers share.
workers = int(os.environ.setdefault(
    "MODELDECK_WORKERS", str(min(4, 2 * multiprocessing.cpu_count()))))
threads = int(os.environ.get("MODELDECK_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("MODELDECK_TIMEOUT", "60"))
graceful_timeout = 20
# Build the app once in the master and fork: workers share its memory and start at once.
preload_app = True
# A worker is replaced now and then, so a slow leak can never grow without bound — rarely:
# a replaced worker closes its idle keep-alive connections (the 180 s load test at 5,000 saw
# 3 clients that reused one fail) and starts with an empty in-process cache.
max_requests = 50000
# Idle keep-alive connections stay open this long (gunicorn's default is 2 s). A browser
# between two pages idles longer than 2 s; the 180 s load test saw 2 requests fail on a
# connection the server was closing just as the client reused it.
keepalive = 5
max_requests_jitter = 5000
accesslog = os.environ.get("MODELDECK_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("MODELDECK_LOG_LEVEL", "info")
# gunicorn's control socket is one path per user: two servers on a machine would collide.
control_socket_disable = True
