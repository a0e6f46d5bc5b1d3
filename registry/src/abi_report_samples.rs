//! Real excerpts of abi_stable 0.11.3's layout reports, for the tests of
//! [`super`]: what `AGON_LOG_ABI_REPORT=1 agon plugins verify FILE` printed
//! after its first line (agon's own one-sentence refusal).

/// `docs/examples/distinct-tokens-reward` built against a copy of agon-sdk
/// whose `StepStats` had one field appended (`pub values: RVec<f32>`)
/// without an ABI bump. Lines 44–158 and 783–1055 of the 1,057-line output;
/// the comparison of both root modules' layouts before them (lines 3–43)
/// and six blocks without errors between them (159–782) are left out.
pub const STEP_STATS_GREW: &str = r##"
0 error(s).

0 error(s)inside:
    <other>

    field_name:0
    type:AgonPlugin
    size:32 align:8
    package:'agon-sdk' version:'0.1.0'

Layout of expected type:
    --- Type Layout ---
    type:AgonPlugin
    size:32 align:8
    package:'agon-sdk' version:'0.1.0'
    line:22 mod:agon_sdk::root_module
    data:
        Prefix type:
        first_suffix_field:4
        conditional_prefix_fields:
            0
        fields:
            field_name:manifest
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn()->RResult

            field_name:new_generator
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

            field_name:new_discriminator
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

            field_name:new_reward
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

        accessible_fields:
            [Yes, Yes, Yes, Yes]
    Tag:
        null
    Extra checks:
        <nothing>
    Repr attribute:C
    Module reflection mode:Module

Layout of found type:
    --- Type Layout ---
    type:AgonPlugin
    size:32 align:8
    package:'agon-sdk' version:'0.1.0'
    line:22 mod:agon_sdk::root_module
    data:
        Prefix type:
        first_suffix_field:4
        conditional_prefix_fields:
            0
        fields:
            field_name:manifest
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn()->RResult

            field_name:new_generator
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

            field_name:new_discriminator
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

            field_name:new_reward
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

        accessible_fields:
            [Yes, Yes, Yes, Yes]
    Tag:
        null
    Extra checks:
        <nothing>
    Repr attribute:C
    Module reflection mode:Module


1 error(s)inside:
    <other>

    field_name:0
    type:AgonPlugin
    size:32 align:8
    package:'agon-sdk' version:'0.1.0'

    field_name:new_generator
    type:AFunctionPointer
    size:8 align:8
    package:'abi_stable' version:'0.11.3'
    fn pointer(s):
        fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
        lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

    fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
    lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

    field_name:__returns
    type:RResult
    size:48 align:8
    package:'abi_stable' version:'0.11.3'

    field_name:field_0
    type:Generator_TO<'lt>
    size:24 align:8
    package:'agon-sdk' version:'0.1.0'

    field_name:obj
    type:RObject<'lt>
    size:24 align:8
    package:'abi_stable' version:'0.11.3'
    lifetime indices:Array(ArrayLen { len: 1, array: [[Param(0), NONE], [NONE, NONE], [NONE, NONE]] })

    field_name:vtable
    type:PrefixRef<'a, VTable>
    size:8 align:8
    package:'abi_stable' version:'0.11.3'

    field_name:0
    type:VTable
    size:88 align:8
    package:'agon-sdk' version:'0.1.0'

    field_name:mle_step
    type:AFunctionPointer
    size:8 align:8
    package:'abi_stable' version:'0.11.3'
    fn pointer(s):
        unsafe fn(_self,param_0,param_1,: RMut<'a>, param_1: &'a  Batch , param_2: &'a  MleOptions )->RResult
        lifetime indices:Array(ArrayLen { len: 2, array: [[ANONYMOUS, ANONYMOUS], [ANONYMOUS, NONE], [NONE, NONE]] })

    unsafe fn(_self,param_0,param_1,: RMut<'a>, param_1: &'a  Batch , param_2: &'a  MleOptions )->RResult
    lifetime indices:Array(ArrayLen { len: 2, array: [[ANONYMOUS, ANONYMOUS], [ANONYMOUS, NONE], [NONE, NONE]] })

    field_name:__returns
    type:RResult
    size:80 align:8
    package:'abi_stable' version:'0.11.3'

Layout of expected type:
    --- Type Layout ---
    type:RResult
    size:48 align:8
    package:'abi_stable' version:'0.11.3'
    line:10 mod:abi_stable::std_types::result
    data:
        Enum:
        variants:"ROk;RErr;"
        fields(all variants combined):
            field_name:field_0
            type:StepStats
            size:40 align:8
            package:'agon-sdk' version:'0.1.0'

            field_name:field_0
            type:PluginError
            size:40 align:8
            package:'agon-sdk' version:'0.1.0'

        field counts(per-variant):[1, 1]
        exhaustiveness:IsExhaustive { value: None }
        discriminants:[0, 1]
    Tag:
        null
    Extra checks:
        <nothing>
    Repr attribute:Int(U8)
    Module reflection mode:Module

Layout of found type:
    --- Type Layout ---
    type:RResult
    size:80 align:8
    package:'abi_stable' version:'0.11.3'
    line:10 mod:abi_stable::std_types::result
    data:
        Enum:
        variants:"ROk;RErr;"
        fields(all variants combined):
            field_name:field_0
            type:StepStats
            size:72 align:8
            package:'agon-sdk' version:'0.1.0'

            field_name:field_0
            type:PluginError
            size:40 align:8
            package:'agon-sdk' version:'0.1.0'

        field counts(per-variant):[1, 1]
        exhaustiveness:IsExhaustive { value: None }
        discriminants:[0, 1]
    Tag:
        null
    Extra checks:
        <nothing>
    Repr attribute:Int(U8)
    Module reflection mode:Module



Error:incompatible type size
Expected:
    48
Found:
    80
2 error(s)inside:
    <other>

    field_name:0
    type:AgonPlugin
    size:32 align:8
    package:'agon-sdk' version:'0.1.0'

    field_name:new_generator
    type:AFunctionPointer
    size:8 align:8
    package:'abi_stable' version:'0.11.3'
    fn pointer(s):
        fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
        lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

    fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
    lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

    field_name:__returns
    type:RResult
    size:48 align:8
    package:'abi_stable' version:'0.11.3'

    field_name:field_0
    type:Generator_TO<'lt>
    size:24 align:8
    package:'agon-sdk' version:'0.1.0'

    field_name:obj
    type:RObject<'lt>
    size:24 align:8
    package:'abi_stable' version:'0.11.3'
    lifetime indices:Array(ArrayLen { len: 1, array: [[Param(0), NONE], [NONE, NONE], [NONE, NONE]] })

    field_name:vtable
    type:PrefixRef<'a, VTable>
    size:8 align:8
    package:'abi_stable' version:'0.11.3'

    field_name:0
    type:VTable
    size:88 align:8
    package:'agon-sdk' version:'0.1.0'

    field_name:mle_step
    type:AFunctionPointer
    size:8 align:8
    package:'abi_stable' version:'0.11.3'
    fn pointer(s):
        unsafe fn(_self,param_0,param_1,: RMut<'a>, param_1: &'a  Batch , param_2: &'a  MleOptions )->RResult
        lifetime indices:Array(ArrayLen { len: 2, array: [[ANONYMOUS, ANONYMOUS], [ANONYMOUS, NONE], [NONE, NONE]] })

    unsafe fn(_self,param_0,param_1,: RMut<'a>, param_1: &'a  Batch , param_2: &'a  MleOptions )->RResult
    lifetime indices:Array(ArrayLen { len: 2, array: [[ANONYMOUS, ANONYMOUS], [ANONYMOUS, NONE], [NONE, NONE]] })

    field_name:__returns
    type:RResult
    size:80 align:8
    package:'abi_stable' version:'0.11.3'

    field_name:field_0
    type:StepStats
    size:72 align:8
    package:'agon-sdk' version:'0.1.0'

Layout of expected type:
    --- Type Layout ---
    type:StepStats
    size:40 align:8
    package:'agon-sdk' version:'0.1.0'
    line:19 mod:agon_sdk::stats
    data:
        Struct with Fields:
            field_name:loss
            type:f32
            size:4 align:4
            package:'std' version:'1.0.0'

            field_name:sequences
            type:u32
            size:4 align:4
            package:'std' version:'1.0.0'

            field_name:extras
            type:RVec
            size:32 align:8
            package:'abi_stable' version:'0.11.3'

    Tag:
        null
    Extra checks:
        <nothing>
    Repr attribute:C
    Module reflection mode:Module

Layout of found type:
    --- Type Layout ---
    type:StepStats
    size:72 align:8
    package:'agon-sdk' version:'0.1.0'
    line:19 mod:agon_sdk::stats
    data:
        Struct with Fields:
            field_name:loss
            type:f32
            size:4 align:4
            package:'std' version:'1.0.0'

            field_name:sequences
            type:u32
            size:4 align:4
            package:'std' version:'1.0.0'

            field_name:extras
            type:RVec
            size:32 align:8
            package:'abi_stable' version:'0.11.3'

            field_name:values
            type:RVec
            size:32 align:8
            package:'abi_stable' version:'0.11.3'

    Tag:
        null
    Extra checks:
        <nothing>
    Repr attribute:C
    Module reflection mode:Module



Error:incompatible type size
Expected:
    40
Found:
    72

Error:too many fields
Expected:
    3
Found:
    4

"##;

/// `tests/fixtures/layout-mismatch` (a root module of other fields that
/// claims ABI 1.0). Lines 44–148 of the 150-line output: everything after
/// the comparison of both root modules' layouts, up to agon's closing
/// `error:` line.
pub const IMPOSTOR_ROOT_MODULE: &str = r##"
0 error(s).

1 error(s)inside:
    <other>

    field_name:0
    type:ImpostorPlugin
    size:16 align:8
    package:'agon-fixture-layout-mismatch' version:'0.1.0'

Layout of expected type:
    --- Type Layout ---
    type:AgonPlugin
    size:32 align:8
    package:'agon-sdk' version:'0.1.0'
    line:22 mod:agon_sdk::root_module
    data:
        Prefix type:
        first_suffix_field:4
        conditional_prefix_fields:
            0
        fields:
            field_name:manifest
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn()->RResult

            field_name:new_generator
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

            field_name:new_discriminator
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

            field_name:new_reward
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(name,context,: RStr<'a>, param_1: &'a  PluginContext )->RResult
                lifetime indices:Array(ArrayLen { len: 1, array: [[ANONYMOUS, ANONYMOUS], [NONE, NONE], [NONE, NONE]] })

        accessible_fields:
            [Yes, Yes, Yes, Yes]
    Tag:
        null
    Extra checks:
        <nothing>
    Repr attribute:C
    Module reflection mode:Module

Layout of found type:
    --- Type Layout ---
    type:ImpostorPlugin
    size:16 align:8
    package:'agon-fixture-layout-mismatch' version:'0.1.0'
    line:11 mod:agon_fixture_layout_mismatch
    data:
        Prefix type:
        first_suffix_field:2
        conditional_prefix_fields:
            0
        fields:
            field_name:greeting
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn()->RString

            field_name:count
            type:AFunctionPointer
            size:8 align:8
            package:'abi_stable' version:'0.11.3'
            fn pointer(s):
                fn(,: u64)->u64

        accessible_fields:
            [Yes, Yes]
    Tag:
        null
    Extra checks:
        <nothing>
    Repr attribute:C
    Module reflection mode:Module



Error:mismatched type
Expected:
    AgonPlugin
Found:
    ImpostorPlugin

"##;
