"""Messaging: queue names, the dispatcher that hands runs to the broker, the embedded broker.

Only run ids travel; the database is the truth. Kombu and Celery stay in this package.
"""
