import type { Redis } from 'ioredis';

/**
 * Commands sent on `redis` in one turn of the event loop leave in one socket write: the socket is corked at
 * the turn's first command and uncorked when the turn ends (setImmediate). A write is a system call per
 * command otherwise, the largest cost of a no-op job here (BullMQ's add, our existence check, a worker's
 * completions). ioredis' auto-pipelining batches the same way but builds a Pipeline per batch, which costs
 * more CPU than it saves at these sizes (measured in bench/jobs.ts). Not for a connection that blocks.
 */
export function coalesceWrites(redis: Redis): Redis {
  const send = redis.sendCommand.bind(redis);
  let corked: Redis['stream'] | null = null;
  redis.sendCommand = (command, stream) => {
    const socket = redis.stream;
    if (!stream && socket && corked !== socket && redis.status === 'ready') {
      corked = socket;
      socket.cork();
      setImmediate(() => {
        corked = null;
        socket.uncork();
      });
    }
    return send(command, stream);
  };
  return redis;
}
