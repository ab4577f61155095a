# One image for every clipper process; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY clipper ./clipper
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-cache-dir --no-deps -e .
ENV DATA_DIR=/data PYTHONUNBUFFERED=1
CMD ["python", "-m", "api"]
