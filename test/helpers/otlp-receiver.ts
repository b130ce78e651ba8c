import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type handleUnaryCall, Server, ServerCredentials } from '@grpc/grpc-js';

export type OtlpRequest = { path: string; body: Buffer };

export type OtlpReceiver = {
  /** The base URL an exporter is given (OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly endpoint: string;
  /** Every request, in order: its path (or gRPC method) and its body as sent. */
  readonly requests: OtlpRequest[];
  close(): Promise<void>;
};

/** A collector's OTLP/HTTP receiver on 127.0.0.1: answers 200 to every export and keeps what came. */
export async function startOtlpHttpReceiver(): Promise<OtlpReceiver> {
  const requests: OtlpRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const services = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};
const raw = (b: Buffer) => b;

/**
 * A collector's OTLP/gRPC receiver, as Container Apps' managed agent listens: the trace and metric
 * Export methods, each request kept as its protobuf bytes and answered with an empty response.
 */
export async function startOtlpGrpcReceiver(): Promise<OtlpReceiver> {
  const requests: OtlpRequest[] = [];
  const server = new Server();
  for (const path of Object.values(services)) {
    const handler: handleUnaryCall<Buffer, Buffer> = (call, callback) => {
      requests.push({ path, body: call.request });
      callback(null, Buffer.alloc(0));
    };
    server.addService(
      {
        Export: {
          path,
          requestStream: false,
          responseStream: false,
          requestSerialize: raw,
          requestDeserialize: raw,
          responseSerialize: raw,
          responseDeserialize: raw,
        },
      },
      { Export: handler },
    );
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
