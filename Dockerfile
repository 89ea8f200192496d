# The ArrayStream web image: Daphne serving the ASGI application on port 8000.
# Built by `docker compose build`; the README's "Production" section runs it.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Requirements first: a change to the code alone reuses this layer.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# The settings need a secret and a MongoDB address to load. Neither is used
# here: collectstatic never connects, and the real values come at run time.
RUN SECRET_KEY=collectstatic-at-build-time-only-never-used-to-sign-anything \
    MONGODB_URI=mongodb://127.0.0.1:27017/ \
    python manage.py collectstatic --noinput

# The code stays owned by root and read-only to the process that serves it.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin arraystream
USER arraystream

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "deploy/healthcheck.py"]

# A command rather than a fixed entry point, so that the same image also runs
# one-off commands: docker compose run --rm web python manage.py generate
# (-v 0: no access log of Daphne's own; the project logs each request.)
CMD ["daphne", "-v", "0", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "arraystream.asgi:application"]
