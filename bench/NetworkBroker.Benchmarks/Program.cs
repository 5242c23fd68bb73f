using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(NetworkBroker.Benchmarks.NetlinkDumpDecoding).Assembly).Run(args);
