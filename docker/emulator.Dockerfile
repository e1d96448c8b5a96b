# The Peak emulator (emulator/, its own distribution) on a slim Python: Peak's API, Peaka's cache
# API and the orders REST source for the example DAGs. The build context is the repository's root.
FROM python:3.11-slim
COPY emulator /opt/peak-emulator
RUN pip install --no-cache-dir /opt/peak-emulator && useradd --create-home emulator \
    && mkdir /data && chown emulator /data
USER emulator
ENTRYPOINT ["python", "-m", "peak_emulator"]
