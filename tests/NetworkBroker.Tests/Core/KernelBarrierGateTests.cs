using NetworkBroker.Core;

namespace NetworkBroker.Tests.Core;

public class KernelBarrierGateTests
{
    private long _now = 1_000;
    private readonly List<uint> _sent = [];

    private KernelBarrierGate<string> Gate(int timeoutMs = 1000) => new(() => _now, TimeSpan.FromMilliseconds(timeoutMs));

    private bool Send(uint token)
    {
        _sent.Add(token);
        return true;
    }

    [Fact]
    public void An_input_is_held_until_its_barrier_comes_back_and_then_released_with_the_ones_before_it_in_order()
    {
        var gate = Gate();
        Assert.Empty(gate.Admit("a", Send));
        Assert.Empty(gate.Admit("b", Send));
        Assert.Empty(gate.Admit("c", Send));
        Assert.Equal([1u, 2u, 3u], _sent);
        Assert.Equal(3, gate.Held);

        // The barrier of b releases a and b, not c.
        Assert.Equal(["a", "b"], gate.Released(2));
        Assert.Empty(gate.Released(2));
        Assert.Equal(["c"], gate.Released(3));
        Assert.Equal(0, gate.Held);
    }

    [Fact]
    public void A_barrier_that_cannot_be_sent_lets_the_held_inputs_go_first_then_the_input_at_once()
    {
        var gate = Gate();
        gate.Admit("a", Send);
        Assert.Equal(["a", "b"], gate.Admit("b", _ => false));
        Assert.Equal(["c"], gate.Admit("c", null));
        Assert.Equal(0, gate.Held);
        // A late answer for a's barrier finds nothing to release twice.
        Assert.Empty(gate.Released(1));
    }

    [Fact]
    public void Tokens_wrap_around_skipping_zero_and_an_answer_after_the_wrap_releases_what_was_held_before_it()
    {
        var gate = new KernelBarrierGate<string>(() => _now, TimeSpan.FromSeconds(1), lastToken: uint.MaxValue - 1);
        gate.Admit("a", Send);
        gate.Admit("b", Send);
        gate.Admit("c", Send);
        Assert.Equal([uint.MaxValue, 1u, 2u], _sent);
        // An answer from before the wrap releases only what was held up to it.
        Assert.Equal(["a"], gate.Released(uint.MaxValue));
        // An old answer (before every held token) releases nothing.
        Assert.Empty(gate.Released(uint.MaxValue - 7));
        Assert.Equal(["b", "c"], gate.Released(2));
    }

    [Fact]
    public void An_input_whose_barrier_is_lost_goes_on_after_the_timeout_and_not_before()
    {
        var gate = Gate(timeoutMs: 100);
        gate.Admit("a", Send);
        Assert.Equal(TimeSpan.FromMilliseconds(100), gate.ArmCheck());
        // Armed once: no second timer while one is pending.
        Assert.Null(gate.ArmCheck());

        _now += 40;
        gate.Admit("b", Send);
        _now += 59;
        Assert.Empty(gate.Overdue());
        // The check fired early (timers may): the next one is due when a is.
        Assert.Equal(TimeSpan.FromMilliseconds(1), gate.ArmCheck());
        _now += 1;
        Assert.Equal(["a"], gate.Overdue());
        // b has waited 60 ms: its own check is due in 40.
        Assert.Equal(TimeSpan.FromMilliseconds(40), gate.ArmCheck());
        _now += 40;
        Assert.Equal(["b"], gate.Overdue());
        Assert.Null(gate.ArmCheck());
    }

    [Fact]
    public void A_barrier_answered_after_the_timeout_released_its_input_releases_nothing_again()
    {
        var gate = Gate(timeoutMs: 10);
        gate.Admit("a", Send);
        gate.ArmCheck();
        _now += 10;
        Assert.Equal(["a"], gate.Overdue());
        gate.Admit("b", Send);
        Assert.Empty(gate.Released(1));
        Assert.Equal(["b"], gate.Released(2));
    }

    [Fact]
    public void Nothing_held_needs_no_timer()
    {
        var gate = Gate();
        Assert.Null(gate.ArmCheck());
        Assert.Empty(gate.Overdue());
        Assert.Empty(gate.Released(7));
    }
}
