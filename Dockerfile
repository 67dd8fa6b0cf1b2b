# Production image: gunicorn serves the web app; the same image runs the Celery worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REBALANCER_VAR_DIR=/var/lib/rebalancer

WORKDIR /app
COPY . .
# gcc builds the optimizer's C extension (optimizer/_ipm.c) and is removed again. The image
# installs the base dependencies only: the optimizer's lab (extra "lab": cvxpy, matplotlib) is
# for the bench and the backtest, not for the web app or the workers.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /var/lib/rebalancer \
    && SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost DATABASE_URL=postgres://x@localhost/x \
       python manage.py collectstatic --noinput \
    && useradd --system --home /app rebalancer && chown -R rebalancer /var/lib/rebalancer
USER rebalancer
EXPOSE 8000
CMD ["gunicorn", "rebalancer.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
