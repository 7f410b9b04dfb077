/* sandbox_hints.c -- errors that name the Lua form of a Python idiom: the
 * hint appended to an error message whose cause is a Python habit
 * (len(x), range, a method defined with a dot...), and the globals'
 * __index that refuses True, False and None. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "sandbox.h"

/* What an error about a name means when the name is Python's. */
static const struct {
    const char *what;               /* "global 'len'" as Lua names it */
    const char *hint;
} s_hints[] = {
    { "global 'len'", "len() is Python: Lua writes #x" },
    { "global 'range'", "range() is Python: Lua counts with "
      "for i = 1, n do ... end" },
    { "global 'enumerate'", "enumerate() is Python: Lua writes "
      "for i, v in ipairs(t) do ... end" },
    { "global 'abs'", "abs() is Python: Lua has math.abs" },
    { "global 'min'", "min() is Python: Lua has math.min" },
    { "global 'max'", "max() is Python: Lua has math.max" },
    { "global 'round'", "round() is Python: Lua writes "
      "math.floor(x + 0.5)" },
    { "global 'sum'", "sum() is Python: Lua adds up an array in a for "
      "loop" },
    { "global 'int'", "int() is Python: Lua has math.floor and "
      "math.tointeger" },
    { "global 'float'", "float() is Python: Lua has tonumber" },
    { "global 'str'", "str() is Python: Lua has tostring" },
    { "global 'np'", "numpy is Python: in Lua 0/0 is NaN, x ~= x tests "
      "for it, and math has floor, sqrt, log, ..." },
    { "global 'self'", "self is only defined in a method: write "
      "function S:next() with a colon" },
    { "field 'isnan'", "isnan is Python: in Lua x ~= x is true only for "
      "NaN" },
    { "method 'append'", "append is Python: Lua writes "
      "table.insert(t, x)" },
    { "')' expected near '='", "arguments by name are a table in Lua: "
      "self:buy{size = 0.5}" },
    { "'then' expected near '='", "Lua compares with ==" },
    { "expected near ':'", "Lua writes if x then ... end and "
      "for ... do ... end, without ':'" },
    { "near '!'", "Lua writes ~= for not equal and `not` for negation" },
    { "unexpected symbol near '#'", "Lua comments start with --" },
};

void sandbox_hint(char *msg, size_t size)
{
    size_t n = strlen(msg);

    for (size_t i = 0; i < sizeof s_hints / sizeof s_hints[0]; i++)
        if (strstr(msg, s_hints[i].what)) {
            snprintf(msg + n, size - n, "; %s", s_hints[i].hint);
            return;
        }
}

/* The globals' __index: True, False and None are nil in Lua, which would
 * read as false without a word; any other unknown global is nil. */
static int s_global_index(lua_State *L)
{
    static const char *const py[][2] = {
        { "True", "true" }, { "False", "false" }, { "None", "nil" }
    };

    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    for (size_t i = 0; i < sizeof py / sizeof py[0]; i++)
        if (strcmp(lua_tostring(L, 2), py[i][0]) == 0)
            return sandbox_error(L, "%s is Python: Lua writes %s", py[i][0],
                                 py[i][1]);
    return 0;
}

void sandbox_hints_globals(lua_State *L)
{
    lua_pushglobaltable(L);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, s_global_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}
