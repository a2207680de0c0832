# gunicorn settings for the trytond WSGI application (the web workers).
#   TRYTOND_CONFIG=/etc/trytond/trytond.conf \
#   TRYTOND_DATABASE_NAMES=acme,globex \
#   gunicorn -c /etc/trytond/gunicorn.conf.py trytond.application:app
import multiprocessing
import os

bind = os.environ.get('CRM_BIND', '127.0.0.1:8000')
# Processes, not threads, give several cores to Python: about one per
# core; the threads cover requests waiting on PostgreSQL.
workers = int(os.environ.get('CRM_WORKERS', multiprocessing.cpu_count()))
threads = int(os.environ.get('CRM_THREADS', 4))
worker_class = 'gthread'
# 1C imports and reports can take a while; slower requests are killed.
timeout = 120
graceful_timeout = 30
# Replace workers now and then: a leak cannot grow for ever.
max_requests = 5000
max_requests_jitter = 500
# trytond.application loads the pools of TRYTOND_DATABASE_NAMES in each
# worker; preloading in the master would share connections across forks.
preload_app = False
accesslog = '-'
forwarded_allow_ips = '127.0.0.1'
