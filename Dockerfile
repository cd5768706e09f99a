# Multi-stage: front-end packages from npm, then the Python application as a non-root user.
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY . .
COPY --from=assets /build/node_modules ./node_modules
RUN pip install --upgrade "pip>=24" && pip install -e . \
    && DJANGO_SECRET_KEY=build-only DJANGO_SETTINGS_MODULE=quantarb.settings.production python manage.py collectstatic --noinput \
    && useradd --create-home --uid 10001 quantarb && mkdir -p /app/var && chown -R quantarb /app/var
USER quantarb
EXPOSE 8000
CMD ["python", "manage.py", "runplatform", "--host", "0.0.0.0", "--port", "8000"]
