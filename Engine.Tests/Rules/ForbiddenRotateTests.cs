using System.Text;
using Engine.Rules;

namespace Engine.Tests.Rules;

public class ForbiddenRotateTests
{
    // docs/rules.md: "Package checks come before value checks: a forbidden rule is ERR_PARAM_NOT_ALLOWED
    // whatever its value." A package allowing only rotate-timed forbids rotate-requests.
    [Theory]
    [InlineData("session-a-rotate-requests_0")]
    [InlineData("session-a-rotate-requests_abc")]
    [InlineData("session-a-rotate-requests_01")]
    public void ForbiddenRotateMode_IsParamNotAllowed_WhateverItsValue(string username)
    {
        RulePolicy policy = RulePolicy.Create(["country", "session", "rotate-timed"], null);
        Assert.True(RuleParser.TryParse("session-a-rotate-requests_5"u8, policy, out _, out RuleError allowedCheck) is false);
        Assert.Equal(RuleProblem.RuleNotAllowed, allowedCheck.Problem);

        Assert.False(RuleParser.TryParse(Encoding.ASCII.GetBytes(username), policy, out _, out RuleError error));
        Assert.Equal(RuleProblem.RuleNotAllowed, error.Problem);
    }
}
