using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Broker.Grpc;

/// <summary>
/// Binds <see cref="TaskApiService"/>'s methods as Grpc.AspNetCore's own binder does, but with request
/// marshallers that turn bytes which are not protobuf into INVALID_ARGUMENT (reported to
/// <see cref="MalformedRequests"/>). grpc-dotnet parses a unary request before any interceptor runs and
/// answers a parse failure as a handler exception: UNKNOWN, with an error-level stack trace per request.
/// The service opts out of the default binder (<see cref="TaskApiService.BindThroughParsingGuard"/>).
/// </summary>
internal sealed class ParsingGuardMethodProvider(MalformedRequests malformed) : IServiceMethodProvider<TaskApiService>
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TaskApiService> context) =>
        TaskService.BindService(new Binder(context, malformed), null);

    private sealed class Binder(ServiceMethodProviderContext<TaskApiService> context, MalformedRequests malformed) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            var implementation = Implementation(method, [typeof(TRequest), typeof(ServerCallContext)]);
            var invoker = implementation.CreateDelegate<UnaryServerMethod<TaskApiService, TRequest, TResponse>>();
            context.AddUnaryMethod(Guarded(method), Metadata(implementation), invoker);
        }

        /// <summary>A server stream (Watch): its one request is parsed before the handler runs too, so it is guarded the same way.</summary>
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var implementation = Implementation(method, [typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)]);
            var invoker = implementation.CreateDelegate<ServerStreamingServerMethod<TaskApiService, TRequest, TResponse>>();
            context.AddServerStreamingMethod(Guarded(method), Metadata(implementation), invoker);
        }

        private static MethodInfo Implementation<TRequest, TResponse>(Method<TRequest, TResponse> method, Type[] parameters)
            where TRequest : class
            where TResponse : class =>
            typeof(TaskApiService).GetMethod(method.Name, BindingFlags.Public | BindingFlags.Instance, parameters)
            ?? throw new InvalidOperationException($"{nameof(TaskApiService)} has no method {method.Name}.");

        /// <summary>The endpoint metadata the default binder gives: the type's attributes, then the method's (which win).</summary>
        private static List<object> Metadata(MethodInfo implementation)
        {
            var metadata = new List<object>();
            metadata.AddRange(typeof(TaskApiService).GetCustomAttributes(inherit: true));
            metadata.AddRange(implementation.GetCustomAttributes(inherit: true));
            metadata.Add(new HttpMethodMetadata(["POST"], acceptCorsPreflight: true));
            return metadata;
        }

        private Method<TRequest, TResponse> Guarded<TRequest, TResponse>(Method<TRequest, TResponse> method)
            where TRequest : class
            where TResponse : class
        {
            var requests = method.RequestMarshaller;
            return new Method<TRequest, TResponse>(
                method.Type,
                method.ServiceName,
                method.Name,
                new Marshaller<TRequest>(requests.ContextualSerializer, bytes => Parse(requests, bytes, method.FullName)),
                method.ResponseMarshaller);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            throw new NotSupportedException($"{method.FullName}: only unary and server-streaming methods are bound here.");

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            throw new NotSupportedException($"{method.FullName}: only unary and server-streaming methods are bound here.");

        private TRequest Parse<TRequest>(Marshaller<TRequest> requests, DeserializationContext bytes, string method)
        {
            try
            {
                return requests.ContextualDeserializer(bytes);
            }
            catch (InvalidProtocolBufferException)
            {
                malformed.ReportCurrent(method);
                throw MalformedRequests.Refusal();
            }
        }
    }
}
